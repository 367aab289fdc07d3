// The gRPC benchmark's service: one unary method carrying raw bytes (serialisation is the
// identity), so the figures are the channel's and the mesh's cost, not a codec's.
export const service = {
  echo: {
    path: '/bench.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b,
  },
};
