export * from './endpoint.js';
export * from './errors.js';
export * from './deadline.js';
export * from './retry.js';
export * from './registry.js';
export * from './cluster.js';
export * from './mesh.js';
export * from './hash-key.js';
