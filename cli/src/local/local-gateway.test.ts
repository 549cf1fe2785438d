import { request } from '@agw/test-kit';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoIdp, type DemoIdp } from '../demo/demo-idp.js';
import { startHttpbin } from '../demo/httpbin.js';
import { LocalGateway } from './local-gateway.js';

/**
 * Local mode in-process, on free ports: the quickstart manifests with the demo IdP and httpbin,
 * live file changes, refused invalid edits, and key rotation picked up on first use.
 */
const quickstart = resolve(import.meta.dirname, '../../../examples/quickstart');
let dir: string;
let idp: DemoIdp;
let bin: { port: number; close(): Promise<void> };
let gw: LocalGateway;
let port: number;
const printed: string[] = [];
const policyFile = () => join(dir, '30-jwt-auth-policy.yaml');

async function eventually(probe: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
const get = (headers: Record<string, string> = {}) => request(port, { host: 'www.example.com', path: '/headers', headers });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agw-local-'));
  cpSync(quickstart, dir, { recursive: true });
  idp = await startDemoIdp({ port: 0 });
  bin = await startHttpbin({ port: 0 });
  // Point the quickstart at this test's ports.
  const sub = (f: string, from: string, to: string) => writeFileSync(join(dir, f), readFileSync(join(dir, f), 'utf8').replace(from, to));
  sub('10-httpbin.yaml', 'port: 8082', `port: ${bin.port}`);
  sub('20-keycloak.yaml', 'port: 8081', `port: ${idp.port}`);
  sub('30-jwt-auth-policy.yaml', 'http://localhost:8081/realms/master', idp.issuer);
  gw = new LocalGateway({
    paths: [dir],
    portMap: new Map([[80, 0]]),
    host: '127.0.0.1',
    adminPort: 0,
    logger: pino({ level: 'silent' }),
    print: (l) => printed.push(l),
    watch: true,
  });
  await gw.start();
  port = gw.boundPorts().get('agentgateway-system/agentgateway-proxy:80') as number;
});

afterAll(async () => {
  await gw.stop();
  await idp.close();
  await bin.close();
});

/** The proxy's count of unknown-kid refetches that found the key (its /metrics). */
async function refetchesFound(adminPort: number): Promise<number> {
  const text = (await request(adminPort, { path: '/metrics' })).body;
  return Number(/agw_jwt_refetch_on_unknown_kid_total\{outcome="found"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('agw local', () => {
  it('serves the guide: 401 without a token, 200 with a token of user1', async () => {
    const none = await get();
    expect([none.status, none.body]).toEqual([401, 'authentication failure: no bearer token found']);
    const ok = await get({ authorization: `Bearer ${await idp.mint('user1')}` });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as { headers: Record<string, string> }).headers['Host']).toBe('www.example.com');
  });

  it('prints the statuses the controller would write, including Valid once keys are fetched', () => {
    expect(printed).toContain('GatewayClass agentgateway: Accepted=True Accepted "Accepted by agentgateway-ts"');
    expect(
      printed.some((l) =>
        /^AgentgatewayPolicy agentgateway-system\/jwt-auth-policy → Gateway agentgateway-system\/agentgateway-proxy: Accepted=True Valid "Policy accepted"; Attached=True Attached/.test(
          l,
        ),
      ),
    ).toBe(true);
  });

  it('serves admin endpoints: ready, metrics, status', async () => {
    const admin = gw.adminPort as number;
    expect((await request(admin, { path: '/readyz' })).status).toBe(200);
    expect((await request(admin, { path: '/metrics' })).body).toContain('agw_jwt_auth_total');
    const status = JSON.parse((await request(admin, { path: '/status' })).body) as Record<string, string>;
    expect(status['HTTPRoute httpbin/httpbin → Gateway agentgateway-system/agentgateway-proxy']).toMatch(/^Accepted=True Accepted/);
  });

  it('a token signed with a freshly rotated key is accepted on first use (refetch on unknown kid)', async () => {
    const kid = await idp.rotateKey();
    const fresh = await idp.mint('user2');
    expect(JSON.parse(Buffer.from(fresh.split('.')[0] as string, 'base64url').toString()).kid).toBe(kid);
    const before = await refetchesFound(gw.adminPort as number);
    const res = await get({ authorization: `Bearer ${fresh}` });
    // The very first request passes, and it was the refetch on its unknown kid that found the key
    // (not a periodic refresh): no clock involved.
    expect(res.status).toBe(200);
    expect(await refetchesFound(gw.adminPort as number)).toBe(before + 1);
  });

  it('applies a file change live (mode Permissive lets a token-less request through)', async () => {
    writeFileSync(policyFile(), readFileSync(policyFile(), 'utf8').replace('mode: Strict', 'mode: Permissive'));
    await eventually(async () => (await get()).status === 200);
  });

  it("refuses an invalid edit with the API server's message and keeps the previous version", async () => {
    writeFileSync(
      policyFile(),
      readFileSync(policyFile(), 'utf8').replace('cacheDuration: "5m"', 'cacheDuration: "4m"').replace('mode: Permissive', 'mode: Strict'),
    );
    await eventually(async () => printed.some((l) => l.includes('cacheDuration must be at least 5m.')));
    expect(printed.find((l) => l.includes('cacheDuration must be at least 5m.'))).toMatch(
      /^error: .*30-jwt-auth-policy\.yaml:\d+: AgentgatewayPolicy agentgateway-system\/jwt-auth-policy refused \(previous version kept\): spec\.traffic\.jwtAuthentication\.providers\.0\.jwks\.remote\.cacheDuration: cacheDuration must be at least 5m\.$/,
    );
    expect((await get()).status).toBe(200); // still Permissive: the refused Strict edit changed nothing
  });
  it('prints a CEL expression that does not parse with file:line and the status message (PartiallyValid, still served)', async () => {
    const f = join(dir, '40-bad-expression.yaml');
    writeFileSync(
      f,
      [
        'apiVersion: agentgateway.dev/v1alpha1',
        'kind: AgentgatewayPolicy',
        'metadata: {name: bad-expression, namespace: httpbin}',
        'spec:',
        '  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: httpbin}]',
        '  traffic:',
        '    authorization:',
        '      action: Deny',
        '      policy:',
        '        matchExpressions:',
        '        - request.path.startsWith(',
        '',
      ].join('\n'),
    );
    const message = 'authorization matchExpression is not a valid CEL expression: request.path.startsWith(';
    await eventually(async () => printed.some((l) => l.includes(message)));
    expect(printed.find((l) => l.includes(message))).toBe(
      `warning: ${f}:11: AgentgatewayPolicy httpbin/bad-expression: spec.traffic.authorization.policy.matchExpressions.0: ${message} (policy PartiallyValid: the expression always fails)`,
    );
    // The status line says the same. (A Deny whose expression cannot compile never denies: traffic is unchanged.)
    await eventually(async () =>
      printed.some(
        (l) => l.startsWith('AgentgatewayPolicy httpbin/bad-expression → Gateway ') && l.includes(`PartiallyValid "${message}"`),
      ),
    );
    rmSync(f);
  });
});
