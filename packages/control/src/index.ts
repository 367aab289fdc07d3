export * from './store/types.js';
export { StoreError, type StoreErrorInit, type StoreErrorReason } from './store/errors.js';
export { hashToken, resourceKeyString } from './store/keys.js';
export { openSqliteStore, SQLITE_FILE, type SqliteStoreOptions } from './store/sqlite-store.js';
export { SCHEMA_VERSION } from './store/sqlite-schema.js';
export { createControlServer, controlHandler, ROUTES, DEFAULT_MAX_BODY_BYTES, type ControlServerOptions, type Route } from './api/server.js';
export { ApiError } from './api/http.js';
export type { Principal, Action } from './api/auth.js';
