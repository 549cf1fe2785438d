#!/usr/bin/env node
/**
 * translate() at scale, in-process (it is pure): N objects (Gateways, HTTPRoutes, Services,
 * EndpointSlices, policies with inline keys), full translate time and heap, and the size of one
 * Gateway's push against the cluster's size.
 *   node bench/dist/translate-bench.js [--objects 5000] [--expressions]
 * --expressions: a policy on every route instead of every other one, each with a distinct
 * authorization rule and two transformation header sets (CEL parsed by the controller).
 */
import { newParseMemo, parseObjects, reconcilePass, translate, withVersion, type ReconcilePass } from '@agw/controller';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { objects: { type: 'string', default: '5000' }, expressions: { type: 'boolean', default: false } },
});
const N = Number(values.objects);
const EXPRESSIONS = values.expressions;
const GATEWAYS = 20;
const key =
  '{"keys":[{"kty":"RSA","kid":"k","alg":"RS256","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}';
const objects: unknown[] = [
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'agentgateway' },
    spec: { controllerName: 'agentgateway.dev/agentgateway' },
  },
];
for (let g = 0; g < GATEWAYS; g++) {
  objects.push({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: `gw-${g}`, namespace: 'bench' },
    spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
  });
}
// Per route: HTTPRoute, Service, EndpointSlice, and a policy on every other route (~3.5 objects each).
let i = 0;
while (objects.length < N) {
  const name = `r-${i}`;
  objects.push(
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: 'bench', creationTimestamp: new Date(1_700_000_000_000 + i * 1000).toISOString() },
      spec: {
        parentRefs: [{ name: `gw-${i % GATEWAYS}` }],
        hostnames: [`${name}.example.com`],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: `/${name}` } }], backendRefs: [{ name, port: 80 }] }],
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bench' }, spec: { ports: [{ name: 'http', port: 80 }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.0.1', '10.1.0.2'] }],
      ports: [{ name: 'http', port: 8080 }],
    },
  );
  if (EXPRESSIONS || i % 2 === 0)
    objects.push({
      apiVersion: 'agentgateway.dev/v1alpha1',
      kind: 'AgentgatewayPolicy',
      metadata: { name: `p-${i}`, namespace: 'bench' },
      spec: {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name }],
        traffic: {
          jwtAuthentication: { providers: [{ issuer: 'https://idp', jwks: { inline: key } }] },
          ...(EXPRESSIONS
            ? {
                authorization: { policy: { matchExpressions: [`has(jwt.group) && jwt.group == 'team-${i}'`] } },
                transformation: {
                  request: {
                    set: [
                      { name: 'x-user-id', value: `jwt.sub + '@route-${i}'` },
                      { name: 'x-user-role', value: `default(jwt.role, 'user-${i}')` },
                    ],
                  },
                },
              }
            : {}),
        },
      },
    });
  i++;
}

const time = (fn: () => void, runs: number) => {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return ms.sort((a, b) => a - b)[Math.floor(runs / 2)] as number;
};
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let parsed = parseObjects(objects);
const parseMs = time(() => {
  parsed = parseObjects(objects);
}, 5);
// The first translate is cold (every CEL expression parsed once; later passes find them memoized).
const cold = process.hrtime.bigint();
let out = translate({ ...parsed, controllerName: 'agentgateway.dev/agentgateway', jwks: new Map() });
const coldMs = Number(process.hrtime.bigint() - cold) / 1e6;
const translateMs = time(() => {
  out = translate({ ...parsed, controllerName: 'agentgateway.dev/agentgateway', jwks: new Map() });
}, 5);
const versionMs = time(() => {
  for (const c of out.configs.values()) withVersion(c);
}, 5);
const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;

// The controller's pass (reconcile/reconcile-pass.ts: parse through the memo, translate, version)
// after one HTTPRoute or one policy changed, as the controller runs it after a watch event: with
// the previous pass (only the touched Gateway compiled and versioned) and without it (a full resync).
// namesUnique as the controller passes it (its lists are informer caches: one object per name).
const memo = newParseMemo();
const controllerName = 'agentgateway.dev/agentgateway';
let pass: ReconcilePass = reconcilePass({ objects, controllerName, jwks: new Map(), memo, namesUnique: true });
let changed = 0;
/** Replaces one HTTPRoute with an edited copy (a new path), as the informer replaces a changed object. */
const changeOneRoute = () => {
  const at = objects.findIndex((o, j) => j > 20 + changed * 7 && (o as { kind: string }).kind === 'HTTPRoute');
  const r = objects[at] as { spec: { rules: Array<{ matches: Array<{ path: { value: string } }> }> } };
  const rule = r.spec.rules[0] as (typeof r.spec.rules)[number];
  objects[at] = {
    ...r,
    spec: { ...r.spec, rules: [{ ...rule, matches: [{ path: { type: 'PathPrefix', value: `/changed-${changed}` } }] }] },
  };
  changed++;
};
const incrementalMs = time(() => {
  changeOneRoute();
  pass = reconcilePass({ objects, controllerName, jwks: new Map(), memo, previous: pass, namesUnique: true });
}, 7);
const compiledGateways = pass.compiled === 'all' ? GATEWAYS : pass.compiled.size;
let policiesChanged = 0;
/** Replaces one AgentgatewayPolicy with an edited copy (another issuer). */
const changeOnePolicy = () => {
  const at = objects.findIndex((o, j) => j > 20 + policiesChanged * 7 && (o as { kind: string }).kind === 'AgentgatewayPolicy');
  const p = objects[at] as { spec: { traffic: { jwtAuthentication: { providers: Array<Record<string, unknown>> } } } };
  const providers = p.spec.traffic.jwtAuthentication.providers.map((x) => ({ ...x, issuer: `https://idp-${policiesChanged}` }));
  objects[at] = { ...p, spec: { ...p.spec, traffic: { ...p.spec.traffic, jwtAuthentication: { providers } } } };
  policiesChanged++;
};
const policyMs = time(() => {
  changeOnePolicy();
  pass = reconcilePass({ objects, controllerName, jwks: new Map(), memo, previous: pass, namesUnique: true });
}, 7);
const policyGateways = pass.compiled === 'all' ? GATEWAYS : pass.compiled.size;
const resyncMs = time(() => {
  changeOneRoute();
  pass = reconcilePass({ objects, controllerName, jwks: new Map(), memo, namesUnique: true });
}, 3);
const sizes = [...out.configs.values()].map((c) => JSON.stringify(withVersion(c)).length);
const rows = [
  `| objects | routes | policies | Gateways | parse ms | first translate ms | translate ms | version (sha256) ms | one Gateway's push, KiB | all pushes, KiB | heap after, MiB | RSS, MiB |`,
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  `| ${objects.length} | ${parsed.httpRoutes.length} | ${parsed.policies.length} | ${GATEWAYS} | ${parseMs.toFixed(0)} | ${coldMs.toFixed(0)} | ${translateMs.toFixed(0)} | ${versionMs.toFixed(0)} | ${(Math.max(...sizes) / 1024).toFixed(0)} | ${(sizes.reduce((a, b) => a + b, 0) / 1024).toFixed(0)} | ${heapMb.toFixed(0)} | ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} |`,
];
rows.push(
  '',
  `| controller pass (parse through the memo, translate, version) after | ms (median) | Gateways compiled |`,
  '|---|---|---|',
  `| one HTTPRoute changed, with the previous pass (its Gateway compiled) | ${incrementalMs.toFixed(0)} | ${compiledGateways} of ${GATEWAYS} |`,
  `| one AgentgatewayPolicy changed, with the previous pass (its route's Gateway compiled) | ${policyMs.toFixed(0)} | ${policyGateways} of ${GATEWAYS} |`,
  `| one HTTPRoute changed, without it (a full resync) | ${resyncMs.toFixed(0)} | ${GATEWAYS} of ${GATEWAYS} |`,
);
process.stdout.write(`${rows.join('\n')}\n`);
