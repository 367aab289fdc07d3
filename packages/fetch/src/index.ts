/**
 * @meshwork/fetch: `fetch()` and `undici.request` through the mesh.
 *
 * @example
 * const mesh = installMesh({ configDir: './istio', workload: { namespace: 'default', labels: { app: 'productpage' } } });
 * await fetch('http://reviews:9080/reviews/1'); // routed, balanced, retried as behind a sidecar
 * await mesh.close();
 */
import { getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from './undici-parts.js';
import { MeshDispatcher, type MeshDispatcherOptions } from './dispatcher.js';

export { MeshDispatcher, type MeshDispatcherOptions, type RequestInfo } from './dispatcher.js';

/** A dispatcher to pass explicitly: `fetch(url, { dispatcher })`, `undici.request(url, { dispatcher })`. */
export function createMeshDispatcher(options: MeshDispatcherOptions = {}): MeshDispatcher {
  return new MeshDispatcher(options);
}

export interface InstalledMesh {
  readonly dispatcher: MeshDispatcher;
  /** Restores the previous global dispatcher and closes the mesh's connections. */
  close(): Promise<void>;
}

/**
 * Makes the mesh the global undici dispatcher: Node's built-in `fetch`, the `undici`
 * package's `fetch`/`request`, and every library on the global dispatcher go through it.
 */
export function installMesh(options: MeshDispatcherOptions = {}): InstalledMesh {
  const dispatcher = new MeshDispatcher(options);
  const previous: Dispatcher = getGlobalDispatcher();
  setGlobalDispatcher(dispatcher);
  let closed = false;
  return {
    dispatcher,
    async close() {
      if (closed) return;
      closed = true;
      if (getGlobalDispatcher() === dispatcher) setGlobalDispatcher(previous);
      await dispatcher.close();
    },
  };
}
