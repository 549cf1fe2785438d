import { createRequire } from 'node:module';
import type * as undici from 'undici';

/**
 * undici's Agent and connector, loaded from their own modules instead of undici's index: the
 * index also loads fetch, WebSocket, EventSource, the caches, the mocks and the interceptors, which
 * the proxy never uses, and that was ~5 MiB of each worker's idle RSS (issue 18). The proxy calls
 * only `Agent#dispatch` (ADR 0004), which the index's Dispatcher API mixins do not change.
 * undici has no `exports` map, so these paths resolve; `undici-dispatcher.test.ts` checks they are
 * the very objects undici's index exports (an undici release that moves them fails it).
 */
const load = createRequire(import.meta.url);
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof undici.Agent;
export type Agent = undici.Agent;
export const buildConnector = load('undici/lib/core/connect.js') as typeof undici.buildConnector;
/** The options of buildConnector (TLS settings, `useH2c`, timeouts). */
export type ConnectorOptions = undici.buildConnector.BuildOptions;
