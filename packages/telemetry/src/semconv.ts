/**
 * The attribute names Meshwork writes on spans, in one place (OpenTelemetry HTTP semantic
 * conventions, stable names; Envoy's and Istio's own tags).
 */

// OpenTelemetry semantic conventions (HTTP spans, stable).
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_QUERY = 'url.query';
export const ATTR_URL_SCHEME = 'url.scheme';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_CLIENT_PORT = 'client.port';
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';
export const ATTR_ERROR_TYPE = 'error.type';

/** The HTTP methods semantic conventions know; others are reported as `_OTHER`. */
export const KNOWN_HTTP_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

// Envoy's span tags (source/common/tracing/http_tracer_impl.cc) that Istio dashboards read.
export const TAG_REQUEST_ID = 'guid:x-request-id';
export const TAG_RESPONSE_FLAGS = 'response_flags';
export const TAG_UPSTREAM_CLUSTER = 'upstream_cluster';

// Istio's service tags (pilot/pkg/networking/core/tracing.go: buildServiceTags).
export const TAG_ISTIO_CANONICAL_REVISION = 'istio.canonical_revision';
export const TAG_ISTIO_CANONICAL_SERVICE = 'istio.canonical_service';
export const TAG_ISTIO_MESH_ID = 'istio.mesh_id';
export const TAG_ISTIO_NAMESPACE = 'istio.namespace';
export const TAG_ISTIO_CLUSTER_ID = 'istio.cluster_id';
