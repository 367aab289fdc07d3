/**
 * The parts of the npm `undici` package the mesh uses: the Dispatcher base class, Pool (one
 * per endpoint), Agent (passthrough) and the global-dispatcher slot.
 *
 * Why not `import ... from 'undici'`: the package's index loads everything it has (fetch,
 * WebSocket, EventSource, caches, mocks, interceptors), 27 MB of RSS in a fresh Node 24
 * process; these four modules cost about half of that. An application that imports
 * `undici` itself gets the very same module instances (Node caches CommonJS modules by
 * path), so nothing is loaded twice. undici 8 has no `exports` map, so these paths are
 * reachable; the catalog pins the version and `test/install.test.ts` exercises every one.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
const globalSlot = require('undici/lib/global.js') as { getGlobalDispatcher(): Undici.Dispatcher; setGlobalDispatcher(d: Undici.Dispatcher): void };
export const getGlobalDispatcher = globalSlot.getGlobalDispatcher;
export const setGlobalDispatcher = globalSlot.setGlobalDispatcher;

export type Dispatcher = Undici.Dispatcher;
export type Pool = Undici.Pool;
export type Agent = Undici.Agent;
