import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ROUTE_SCHEMA_REFUSAL, WITHOUT_ROUTE_SCHEMAS } from './without-route-schemas.js';

describe('WITHOUT_ROUTE_SCHEMAS', () => {
  it('serves routes without schemas', async () => {
    const app = Fastify(WITHOUT_ROUTE_SCHEMAS);
    app.get('/x', async () => ({ a: 1 }));
    const res = await app.inject('/x');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ a: 1 });
    await app.close();
  });

  it('refuses a route with a schema at ready(), rather than leaving it unchecked', async () => {
    const app = Fastify(WITHOUT_ROUTE_SCHEMAS);
    app.get('/x', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, async () => 'ok');
    await expect(app.ready()).rejects.toThrow(ROUTE_SCHEMA_REFUSAL);
  });
});
