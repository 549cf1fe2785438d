import type { FastifyServerOptions } from 'fastify';

/** Why a route schema is refused: the proxy's and admin's routes declare none. */
export const ROUTE_SCHEMA_REFUSAL = 'route schemas are not used by the proxy (its Fastify servers load no schema compiler)';

const refuse = (): never => {
  throw new Error(ROUTE_SCHEMA_REFUSAL);
};

/**
 * Fastify options that keep its default schema compilers (Ajv with ajv-formats, and
 * fast-json-stringify) unloaded: Fastify requires them when a server is built, whether or not a
 * route has a schema, and they were ~6 MiB of each worker's idle RSS (issue 18's ≤ 80 MiB target).
 * No proxy route declares a schema (requests are forwarded as they come; answers are plain text or
 * built JSON); one that did would fail at `ready()` with ROUTE_SCHEMA_REFUSAL, not go unchecked.
 */
export const WITHOUT_ROUTE_SCHEMAS = {
  schemaController: { compilersFactory: { buildValidator: refuse, buildSerializer: refuse } },
} satisfies FastifyServerOptions;
