export * from './protobuf-struct.js';
export * from './peer-metadata.js';
export * from './metrics.js';
export * from './tracing.js';
export * as semconv from './semconv.js';
export * from './access-log.js';
