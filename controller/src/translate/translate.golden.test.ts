import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { newParseMemo, parseObjects } from '../resources/parse-objects.js';
import { referencedCaBundles } from '../resources/ca-bundles.js';
import { referencedTlsSecrets } from '../resources/tls-secrets.js';
import { translate } from './translate.js';

/**
 * Golden files: controller/testdata/translate/<case>.yaml holds `input` (manifests), optional
 * `jwks` (fetched key sets by URL) and `output` (configs, statuses, JWKS requests).
 * `UPDATE_GOLDEN=1 npx vitest run controller` rewrites `output`; review the diff before committing.
 */
const dir = new URL('../../testdata/translate/', import.meta.url).pathname;
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function run(file: string) {
  const doc = parse(readFileSync(join(dir, file), 'utf8')) as {
    input: unknown[];
    jwks?: Record<string, { keys: never[] }>;
    output?: unknown;
  };
  const parsed = parseObjects(doc.input);
  expect(parsed.problems).toEqual([]);
  const out = translate({
    ...parsed,
    controllerName: 'agentgateway.dev/agentgateway',
    jwks: new Map(Object.entries(doc.jwks ?? {})),
    tlsSecrets: referencedTlsSecrets(parsed.gateways, parsed.secrets),
    caBundles: referencedCaBundles(parsed.backendTlsPolicies ?? [], parsed.configMaps, parsed.policies, parsed.agentgatewayBackends),
  });
  const actual = JSON.parse(
    JSON.stringify({
      configs: Object.fromEntries(out.configs),
      status: {
        policies: Object.fromEntries(out.status.policies),
        gateways: Object.fromEntries(out.status.gateways),
        httpRoutes: Object.fromEntries(out.status.httpRoutes),
        gatewayClasses: Object.fromEntries(out.status.gatewayClasses),
        ...(out.status.parameters.size > 0 ? { parameters: Object.fromEntries(out.status.parameters) } : {}),
        ...(out.status.backendTlsPolicies.size > 0 ? { backendTlsPolicies: Object.fromEntries(out.status.backendTlsPolicies) } : {}),
        ...(out.status.agentgatewayBackends.size > 0 ? { agentgatewayBackends: Object.fromEntries(out.status.agentgatewayBackends) } : {}),
      },
      ...([...out.gatewayParameters.values()].some((v) => v !== undefined)
        ? { gatewayParameters: Object.fromEntries(out.gatewayParameters) }
        : {}),
      jwksRequests: out.jwksRequests,
    }),
  ) as unknown;
  return { doc, actual };
}

describe('translate (golden)', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(5);
  });
  it.each(cases)('%s', (file) => {
    const { doc, actual } = run(file);
    if (process.env['UPDATE_GOLDEN'] === '1') {
      const text = readFileSync(join(dir, file), 'utf8');
      const head = text.includes('\noutput:') ? text.slice(0, text.indexOf('\noutput:')) : text.trimEnd();
      writeFileSync(join(dir, file), `${head}\noutput:\n${stringify(actual, { lineWidth: 0 }).replace(/^/gm, '  ').trimEnd()}\n`);
      return;
    }
    expect(actual).toEqual(doc.output);
  });
});

describe('parseObjects memo', () => {
  it('reuses the parse of an object it has seen (the informer keeps an unchanged object), parses a new one', () => {
    const memo = newParseMemo();
    const svc = (rv: string, port: number) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'n', resourceVersion: rv },
      spec: { ports: [{ port }] },
    });
    const v1 = svc('1', 80);
    const a = parseObjects([v1], 'default', memo);
    const b = parseObjects([v1], 'default', memo);
    expect(b.services[0]).toBe(a.services[0]);
    // The API server changed it: the informer holds a new object, parsed anew.
    const c = parseObjects([svc('2', 81)], 'default', memo);
    expect(c.services[0]?.spec.ports[0]?.port).toBe(81);
    expect(c.services[0]).not.toBe(a.services[0]);
    // Replaced by a status-only update (new resourceVersion, a status): the same parsed object.
    const d = parseObjects([{ ...svc('3', 81), status: { loadBalancer: {} } }], 'default', memo);
    expect(d.services[0]).toBe(c.services[0]);
    // A problem is remembered too, with its object's name.
    const bad = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x', namespace: 'n' }, spec: { ports: 'no' } };
    const p1 = parseObjects([bad], 'default', memo).problems;
    expect(p1.map((p) => p.ref)).toEqual(['Service n/x']);
    expect(parseObjects([bad], 'default', memo).problems[0]?.issues).toBe(p1[0]?.issues);
  });
});
