import {
  generateSigningKey,
  mintToken,
  request,
  startEchoUpstream,
  startJwksServer,
  type EchoUpstream,
  type JwksServer,
  type SigningKey,
} from '@agw/test-kit';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifests } from '../manifests.js';
import { formatProblem, validateManifests } from '../validate.js';
import { LocalGateway } from './local-gateway.js';

/**
 * AgentgatewayBackend (`spec.static`) in local mode and `agw validate`: a route to a static backend
 * and a JWT policy whose keys come from a static backend, both on loopback (`*.localhost`), with
 * the backends' status lines; an upstream-only kind refused with the API server's words.
 */
const ISS = 'https://idp.localhost/realms/local';
let dir: string;
let upstream: EchoUpstream;
let idp: JwksServer;
let key: SigningKey;
let gw: LocalGateway;
let port: number;
const printed: string[] = [];

const manifests = (echoPort: number, idpPort: number) => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: agentgateway
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: {name: echo, namespace: default}
spec:
  static: {host: echo.localhost, port: ${echoPort}}
---
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: {name: idp, namespace: default}
spec:
  static: {host: idp.localhost, port: ${idpPort}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [app.example.com]
  rules: [{backendRefs: [{group: agentgateway.dev, kind: AgentgatewayBackend, name: echo}]}]
---
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata: {name: jwt, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app}]
  traffic:
    jwtAuthentication:
      providers:
      - issuer: ${ISS}
        jwks:
          remote:
            backendRef: {group: agentgateway.dev, kind: AgentgatewayBackend, name: idp}
            jwksPath: /keys
`;
const get = (token?: string) =>
  request(port, { host: 'app.example.com', path: '/headers', ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agw-local-agbe-'));
  [upstream, key] = await Promise.all([startEchoUpstream('static-echo'), generateSigningKey('ES256', 'local-k1')]);
  idp = await startJwksServer([key.jwk]);
  writeFileSync(join(dir, 'all.yaml'), manifests(upstream.port, idp.port));
  gw = new LocalGateway({
    paths: [dir],
    portMap: new Map([[80, 0]]),
    host: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    print: (l) => printed.push(l),
    watch: false,
  });
  await gw.start();
  port = gw.boundPorts().get('default/gw:80') as number;
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await idp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('agw local with AgentgatewayBackends', () => {
  it('keys fetched from the static backend: a token of that IdP gets 200 from the static upstream, none 401', async () => {
    expect(idp.hits.get('/keys')).toBeGreaterThan(0);
    const none = await get();
    expect([none.status, none.body]).toEqual([401, 'authentication failure: no bearer token found']);
    const ok = await get(await mintToken(key, { claims: { iss: ISS, sub: 'alice' } }));
    expect(ok.status).toBe(200);
    expect(ok.headers['x-upstream']).toBe('static-echo');
    expect(upstream.requests.at(-1)?.headers['host']).toBe('app.example.com');
  });

  it('prints each backend status line, and the policy Valid', () => {
    expect(printed).toContain('AgentgatewayBackend default/echo: Accepted=True Accepted "Backend accepted"');
    expect(printed).toContain('AgentgatewayBackend default/idp: Accepted=True Accepted "Backend accepted"');
    expect(printed).toContain(
      'HTTPRoute default/app → Gateway default/gw: Accepted=True Accepted "Route accepted"; ResolvedRefs=True ResolvedRefs "All references resolved"',
    );
    expect(
      printed.some((l) => l.startsWith('AgentgatewayPolicy default/jwt → Gateway default/gw: Accepted=True Valid "Policy accepted"')),
    ).toBe(true);
  });
});

describe('agw validate with AgentgatewayBackends', () => {
  it('checks them with the CRD rules: valid ones pass, an upstream-only kind or a missing port is refused with file:line', () => {
    const f = join(dir, 'more.yaml');
    writeFileSync(
      f,
      [
        'apiVersion: agentgateway.dev/v1alpha1',
        'kind: AgentgatewayBackend',
        'metadata: {name: llm, namespace: default}',
        'spec:',
        '  ai: {provider: {openai: {}}}',
        '---',
        'apiVersion: agentgateway.dev/v1alpha1',
        'kind: AgentgatewayBackend',
        'metadata: {name: noport, namespace: default}',
        'spec:',
        '  static: {host: idp.example.com}',
        '',
      ].join('\n'),
    );
    try {
      const loaded = loadManifests([dir]);
      expect(loaded.errors).toEqual([]);
      const { problems, checked, ignored } = validateManifests(loaded.manifests);
      expect(ignored).toEqual([]);
      expect(checked).toBe(7);
      expect(problems.map(formatProblem)).toEqual([
        `${f}:5: AgentgatewayBackend default/llm: spec: unknown field "spec.ai"`,
        `${f}:5: AgentgatewayBackend default/llm: spec: exactly one of the fields in [ai static dynamicForwardProxy mcp aws a2a] must be set`,
        `${f}:11: AgentgatewayBackend default/noport: spec.static: must specify either unixPath or both host and port`,
      ]);
    } finally {
      rmSync(f);
    }
  });
});
