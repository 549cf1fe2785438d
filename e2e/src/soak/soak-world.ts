import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KeycloakAdmin,
  apply,
  getJson,
  installAgentgateway,
  kubectl,
  request,
  startControlPlane,
  startController,
  startKeycloak,
  startProxy,
  waitFor,
  freePort,
  type ControlPlane,
  type Keycloak,
  type RunningController,
  type RunningProxy,
} from '@agw/test-kit';
import { ControllerService } from './controller-service.js';
import type { ProxyEndpoint } from './load-generator.js';
import { RecordingUpstream } from './recording-upstream.js';
import { TokenPool } from './token-pool.js';
import { ROUTE_MODES, type RouteMode } from './traffic-mix.js';

export const NS = 'soak';
export const GATEWAY = 'soak-gw';
const CHURN_NS = 'soak-churn';
const TENANT_NS = 'tenant-b';
/** Audience the policies require; only the main client's tokens carry it. */
const AUDIENCE = 'agw-api';
const USERS = ['user1', 'user2'];

export const hostOf = (mode: RouteMode): string => `${mode.toLowerCase()}.soak.example`;

/** A running controller replica: the process and the identity it holds the Lease with. */
interface Replica {
  readonly name: string;
  readonly xdsPort: number;
  running: RunningController;
  generation: number;
}

/** A running proxy of the soak Gateway, and the endpoint the load sends to. */
interface ProxyInstance {
  readonly endpoint: ProxyEndpoint;
  running: RunningProxy;
  generation: number;
}

/**
 * Everything the soak runs against, all real and on loopback: etcd + kube-apiserver with our CRDs
 * and chart, Keycloak with a file database (so a restart is the same IdP), two controller
 * replicas with leader election behind a "Service", two proxies of one Gateway, a recording
 * upstream, and the Gateway, routes and policies of the JWT guide in its three modes.
 * The fault methods each do one fault and verify the system recovered; they throw if it did not.
 */
export class SoakWorld {
  private constructor(
    readonly cp: ControlPlane,
    private keycloak: Keycloak,
    private readonly keycloakDir: string,
    readonly kc: KeycloakAdmin,
    readonly tokens: TokenPool,
    readonly upstream: RecordingUpstream,
    private readonly controllerService: ControllerService,
    private readonly idp: Idp,
    readonly replicas: Replica[],
    readonly proxies: ProxyInstance[],
    private readonly log: (msg: string) => void,
  ) {}

  static async start(o: { mustNotReach: (id: number) => boolean; log: (msg: string) => void }): Promise<SoakWorld> {
    const log = o.log;
    log('control plane: etcd + kube-apiserver, CRDs, chart');
    const cp = await startControlPlane();
    await installAgentgateway(cp.kubeconfig);
    log('Keycloak (file database), clients and users');
    const keycloakDir = mkdtempSync(join(tmpdir(), 'agw-soak-keycloak-'));
    const keycloak = await startKeycloak({ dataDir: keycloakDir, name: 'soak-keycloak' });
    const kc = new KeycloakAdmin(keycloak.url);
    const guide = await kc.configureGuide('soak-main');
    // Tokens outlive a Keycloak outage (2 minutes) by far; the load refreshes them every 5 minutes.
    await kc.setAccessTokenLifespan(900);
    await kc.addAudienceMapper(guide.clientId, AUDIENCE);
    const other = await kc.createClient({ clientId: 'soak-other', secret: 'soak-other-secret' });
    const shortLived = await kc.createClient({
      clientId: 'soak-short',
      secret: 'soak-short-secret',
      audience: AUDIENCE,
      lifespanSeconds: 10,
    });
    const tokens = new TokenPool(kc, { main: guide, other, shortLived }, USERS);
    await tokens.refresh();

    const upstream = await RecordingUpstream.start(o.mustNotReach);
    log('namespaces, Gateway, routes, policies');
    for (const ns of [NS, CHURN_NS, TENANT_NS, 'keycloak']) await kubectl(cp.kubeconfig, ['create', 'namespace', ns]);
    const discovery = (await (await fetch(`${keycloak.url}/realms/master/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    const idp: Idp = { issuer: discovery.issuer, jwksPath: new URL(discovery.jwks_uri).pathname };
    await apply(cp.kubeconfig, baseObjects(keycloak.port, upstream.port, idp));

    log('two controller replicas (leader election) behind one Service address');
    const xdsPorts = [await freePort(), await freePort()];
    const replicas: Replica[] = [];
    for (const [i, name] of ['soak-controller-a', 'soak-controller-b'].entries()) {
      const xdsPort = xdsPorts[i] as number;
      replicas.push({ name, xdsPort, generation: 1, running: await startReplica(cp, name, xdsPort, 1) });
    }
    const controllerService = await ControllerService.start(xdsPorts);
    log('two proxies of the Gateway');
    const proxies: ProxyInstance[] = [];
    for (const name of ['soak-proxy-a', 'soak-proxy-b']) {
      const port = await freePort();
      const running = await startSoakProxy(cp, controllerService.port, name, port, 1);
      proxies.push({ endpoint: { name, port, adminPort: running.adminPort, ready: false }, running, generation: 1 });
    }
    const world = new SoakWorld(cp, keycloak, keycloakDir, kc, tokens, upstream, controllerService, idp, replicas, proxies, log);
    await world.waitServing();
    return world;
  }

  get kubeconfig(): string {
    return this.cp.kubeconfig;
  }

  /** Admin ports of the processes to sample, by instance name (`<name>#<generation>`). */
  processes(): Array<{ instance: string; adminPort: number }> {
    return [
      ...this.replicas.map((r) => ({ instance: `${r.name}#${r.generation}`, adminPort: r.running.adminPort })),
      ...this.proxies.map((p) => ({ instance: `${p.endpoint.name}#${p.generation}`, adminPort: p.running.adminPort })),
    ];
  }

  /** Both proxies enforce all three policies with Keycloak's keys: the state the load starts from and faults return to. */
  async waitServing(): Promise<void> {
    const valid = this.tokens.token('valid', 0) as string;
    for (const p of this.proxies) {
      await waitFor(
        `${p.endpoint.name} enforcing the soak policies`,
        async () => {
          const strictNone = await request(p.endpoint.port, { host: hostOf('Strict'), path: '/' });
          const strictValid = await request(p.endpoint.port, {
            host: hostOf('Strict'),
            path: '/',
            headers: { authorization: `Bearer ${valid}` },
          });
          return strictNone.status === 401 && strictValid.status === 200;
        },
        120_000,
        250,
      );
    }
  }

  /** The replica holding the controller Lease, by the Lease's holderIdentity. */
  async leader(): Promise<Replica | undefined> {
    const lease = await getJson<{ spec?: { holderIdentity?: string } }>(this.kubeconfig, [
      'lease',
      'agentgateway-ts-controller',
      '-n',
      'agentgateway-system',
    ]);
    return this.replicas.find((r) => lease?.spec?.holderIdentity === identity(r.name, r.generation));
  }

  // ---- faults ----------------------------------------------------------------------------------

  /** 100 HTTPRoutes + 100 policies in another namespace: created (and enforced), updated, deleted (and gone). */
  async churn(): Promise<string> {
    const n = 100;
    const objects = (mode: RouteMode) => Array.from({ length: n }, (_, i) => [churnRoute(i), churnPolicy(i, mode, this.idp)]).flat();
    const t0 = Date.now();
    await apply(this.kubeconfig, objects('Strict'));
    await this.waitAnswer(`churn-${n - 1}.soak.example`, 401);
    const created = Date.now() - t0;
    await apply(this.kubeconfig, objects('Permissive'));
    await this.waitAnswer(`churn-${n - 1}.soak.example`, 200);
    const updated = Date.now() - t0 - created;
    const del = await kubectl(this.kubeconfig, ['delete', 'httproutes,agentgatewaypolicies', '--all', '-n', CHURN_NS, '--wait=false']);
    if (del.code !== 0) throw new Error(`kubectl delete: ${del.stderr}`);
    await this.waitAnswer(`churn-${n - 1}.soak.example`, 404);
    return `${2 * n} objects: created and enforced in ${created} ms, updated in ${updated} ms, deleted and gone in ${Date.now() - t0 - created - updated} ms`;
  }

  /** Another tenant's broken HTTPRoute and policy: their statuses say what is wrong; ours are untouched. */
  async badTenant(): Promise<string> {
    await apply(this.kubeconfig, [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'bad-route', namespace: TENANT_NS },
        spec: {
          parentRefs: [{ name: GATEWAY, namespace: NS }],
          hostnames: ['tenant-b.soak.example'],
          rules: [{ backendRefs: [{ name: 'no-such-service', port: 80 }] }],
        },
      },
      {
        apiVersion: 'agentgateway.dev/v1alpha1',
        kind: 'AgentgatewayPolicy',
        metadata: { name: 'bad-policy', namespace: TENANT_NS },
        spec: {
          targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'bad-route' }],
          traffic: {
            jwtAuthentication: { providers: [{ issuer: 'https://tenant-b.example', jwks: { inline: '{"keys":[{"kty":"RSB"}]}' } }] },
          },
        },
      },
    ]);
    let said = '';
    await waitFor(
      'the tenant route and policy statuses say what is wrong',
      async () => {
        const route = await getJson<{
          status?: { parents?: Array<{ conditions: Array<{ type: string; status: string; reason: string }> }> };
        }>(this.kubeconfig, ['httproute', 'bad-route', '-n', TENANT_NS]);
        const resolved = route?.status?.parents?.[0]?.conditions.find((c) => c.type === 'ResolvedRefs');
        const policy = await getJson<{
          status?: { ancestors?: Array<{ conditions: Array<{ type: string; status: string; reason: string }> }> };
        }>(this.kubeconfig, ['agentgatewaypolicy', 'bad-policy', '-n', TENANT_NS]);
        const accepted = policy?.status?.ancestors?.[0]?.conditions.find((c) => c.type === 'Accepted');
        said = `route ResolvedRefs=${resolved?.status}/${resolved?.reason}; policy Accepted=${accepted?.status}/${accepted?.reason}`;
        return resolved?.status === 'False' && accepted !== undefined && accepted.reason !== 'Valid';
      },
      60_000,
      500,
    );
    return said;
  }

  /** Keycloak signs with a new key from now on; tokens are refreshed and carry its kid. */
  async rotateKey(): Promise<string> {
    const before = this.tokens.validKids;
    await this.kc.rotateSigningKey();
    await this.tokens.refresh();
    const after = this.tokens.validKids;
    if (after.some((k) => before.includes(k))) throw new Error(`tokens still signed by ${before.join(',')} after the rotation`);
    return `signing kid ${before.join(',')} → ${after.join(',')}`;
  }

  /** The keys other than the newest leave the realm (valid tokens were refreshed at the rotation). */
  async removeOldKeys(): Promise<string> {
    const signing = this.tokens.validKids;
    const providers = await this.kc.signingKeyProviders();
    const old = providers.slice(1);
    for (const p of old) await this.kc.removeKeyProvider(p.id);
    await this.tokens.refresh();
    // The key that signs today must be the one kept: tokens keep their kid.
    if (this.tokens.validKids.join() !== signing.join())
      throw new Error(`the signing key changed when the old keys were removed: ${signing.join(',')} → ${this.tokens.validKids.join(',')}`);
    return `removed ${old.map((p) => p.name).join(', ') || 'nothing'}; kept ${providers[0]?.name} (signing kid ${signing.join(',')})`;
  }

  /** SIGKILL to the leader; the other replica must take the Lease; the killed one restarts as standby. */
  async killLeader(): Promise<string> {
    const leader = await this.waitLeader();
    const t0 = Date.now();
    leader.running.proc.child.kill('SIGKILL');
    let next: Replica | undefined;
    await waitFor(
      'another replica takes the Lease',
      async () => (next = await this.leader()) !== undefined && next !== leader,
      60_000,
      250,
    );
    const takeover = Date.now() - t0;
    leader.generation++;
    leader.running = await startReplica(this.cp, leader.name, leader.xdsPort, leader.generation);
    await this.waitAnswer(hostOf('Strict'), 401);
    return `${leader.name} killed; ${next?.name} leader after ${takeover} ms; ${leader.name} back as standby`;
  }

  async restartApiServer(): Promise<string> {
    const t0 = Date.now();
    await this.cp.restartApiServer();
    // The controllers' watches resume: a new object is enforced.
    await apply(this.kubeconfig, [churnRoute(1000), churnPolicy(1000, 'Strict', this.idp)]);
    await this.waitAnswer('churn-1000.soak.example', 401);
    await kubectl(this.kubeconfig, ['delete', 'httproute,agentgatewaypolicy', 'churn-1000', '-n', CHURN_NS]);
    await this.waitAnswer('churn-1000.soak.example', 404);
    return `kube-apiserver back and a new policy enforced ${Date.now() - t0} ms after the restart began`;
  }

  /** One proxy drains (SIGTERM; /readyz 503 at once, listeners close 3 s later) and a new one takes its port. */
  async restartProxy(): Promise<string> {
    const p = this.proxies[0] as ProxyInstance;
    const t0 = Date.now();
    await p.running.stop();
    p.generation++;
    p.running = await startSoakProxy(this.cp, this.controllerService.port, p.endpoint.name, p.endpoint.port, p.generation);
    p.endpoint.adminPort = p.running.adminPort;
    await waitFor(
      `${p.endpoint.name} ready again`,
      async () => (await fetch(`http://127.0.0.1:${p.running.adminPort}/readyz`)).ok,
      60_000,
      200,
    );
    return `${p.endpoint.name} drained and replaced; ready ${Date.now() - t0} ms after SIGTERM`;
  }

  /** Keycloak stopped for `downMs`, then started on its port with its data; tokens refreshed. */
  async keycloakDown(downMs: number): Promise<string> {
    await this.keycloak.stop();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, downMs));
    this.keycloak = await startKeycloak({ port: this.keycloak.port, dataDir: this.keycloakDir, name: 'soak-keycloak' });
    const up = Date.now() - t0;
    await this.tokens.refresh();
    return `Keycloak down ${downMs} ms, serving again after ${up} ms`;
  }

  async stop(): Promise<void> {
    for (const p of this.proxies) await p.running.stop();
    for (const r of this.replicas) await r.running.stop();
    await this.controllerService.close();
    await this.keycloak.stop();
    await this.upstream.close();
    await this.cp.stop();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private async waitLeader(): Promise<Replica> {
    let l: Replica | undefined;
    await waitFor('a controller leader', async () => (l = await this.leader()) !== undefined, 60_000, 250);
    return l as Replica;
  }

  /** Both proxies answer `status` for a request without a token to `host`. */
  private async waitAnswer(host: string, status: number): Promise<void> {
    for (const p of this.proxies) {
      await waitFor(
        `${p.endpoint.name}: ${host} answering ${status}`,
        async () => (await request(p.endpoint.port, { host, path: '/' })).status === status,
        60_000,
        200,
      );
    }
  }
}

const identity = (name: string, generation: number) => `${name}-${generation}`;

function startReplica(cp: ControlPlane, name: string, xdsPort: number, generation: number): Promise<RunningController> {
  return startController({
    kubeconfig: cp.controllerKubeconfig,
    name,
    xdsPort,
    extraArgs: [`--identity=${identity(name, generation)}`, '--log-level=info'],
  });
}

function startSoakProxy(cp: ControlPlane, controllerPort: number, name: string, port: number, generation: number): Promise<RunningProxy> {
  return startProxy({
    adminKubeconfig: cp.kubeconfig,
    xdsPort: controllerPort,
    gateway: `${NS}/${GATEWAY}`,
    serviceAccount: 'soak-gw',
    name: `${name}-${generation}`,
    port,
    extraArgs: ['--drain-ms=3000'],
  });
}

function jwksRemote(jwksPath: string) {
  return {
    remote: {
      jwksPath,
      cacheDuration: '5m',
      backendRef: { group: '', kind: 'Service', name: 'keycloak', namespace: 'keycloak', port: 8080 },
    },
  };
}

/** Keycloak's realm as its discovery document names it: the policies' issuer and JWKS path. */
interface Idp {
  readonly issuer: string;
  readonly jwksPath: string;
}

const jwtPolicy = (ns: string, name: string, route: string, mode: RouteMode, idp: Idp) => ({
  apiVersion: 'agentgateway.dev/v1alpha1',
  kind: 'AgentgatewayPolicy',
  metadata: { name, namespace: ns },
  spec: {
    targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: route }],
    traffic: { jwtAuthentication: { mode, providers: [{ issuer: idp.issuer, audiences: [AUDIENCE], jwks: jwksRemote(idp.jwksPath) }] } },
  },
});

function baseObjects(keycloakPort: number, upstreamPort: number, idp: Idp): unknown[] {
  const service = (ns: string, name: string, port: number, target: number, host: string) => [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'FQDN',
      endpoints: [{ addresses: [host] }],
      ports: [{ name: 'http', port: target }],
    },
  ];
  return [
    ...service('keycloak', 'keycloak', 8080, keycloakPort, 'keycloak.localhost'),
    ...service(NS, 'backend', 80, upstreamPort, 'backend.localhost'),
    ...service(CHURN_NS, 'backend', 80, upstreamPort, 'backend.localhost'),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: GATEWAY, namespace: NS },
      spec: {
        gatewayClassName: 'agentgateway',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
      },
    },
    ...ROUTE_MODES.flatMap((mode) => [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: mode.toLowerCase(), namespace: NS },
        spec: { parentRefs: [{ name: GATEWAY }], hostnames: [hostOf(mode)], rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }] },
      },
      jwtPolicy(NS, `jwt-${mode.toLowerCase()}`, mode.toLowerCase(), mode, idp),
    ]),
  ];
}

function churnRoute(i: number) {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: `churn-${i}`, namespace: CHURN_NS },
    spec: {
      parentRefs: [{ name: GATEWAY, namespace: NS }],
      hostnames: [`churn-${i}.soak.example`],
      rules: [{ backendRefs: [{ name: 'backend', port: 80 }] }],
    },
  };
}

function churnPolicy(i: number, mode: RouteMode, idp: Idp) {
  return jwtPolicy(CHURN_NS, `churn-${i}`, `churn-${i}`, mode, idp);
}
