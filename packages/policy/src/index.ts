export * from './diagnostics.js';
export * from './load/resource.js';
export * from './load/loader.js';
export * from './kinds.js';
export * from './util/duration.js';
export * from './util/regex.js';
