/**
 * The standard tags of Istio's stats filter (istio_stats.cc: Context::all_tags_), in the order
 * it emits them. Policy validates Telemetry tag overrides against them and @meshwork/telemetry
 * labels its metrics with exactly this list, so it is a module of its own with no imports,
 * exported as `@meshwork/policy/istio-tags`: telemetry takes policy's types only, and this.
 */
export const ISTIO_STANDARD_TAGS = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;
