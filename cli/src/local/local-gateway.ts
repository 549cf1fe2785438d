import { type FSWatcher, watch } from 'node:fs';
import { sep } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ProxyConfig } from '@agw/api';
import {
  JwksCache,
  defaultGatewayClass,
  fetchJwks,
  parseObjects,
  policyProgrammedCondition,
  programmedCondition,
  reconcilePass,
  type GatewayProgramming,
  type TranslateOutput,
} from '@agw/controller';
import { buildAdminServer } from '@agw/proxy';
import { kindCaseHint, kindCaseMessage } from '../kind-hint.js';
import { formatLoadError, loadManifests, type LoadError, type Manifest } from '../manifests.js';
import { formatApiServerIssues, formatProblem, policyProblems, routeProblems } from '../validate.js';
import { InProcessDataPlane, type DataPlane } from './data-plane.js';
import { statusLines } from './status-lines.js';
import { WorkerDataPlane } from './worker-data-plane.js';

export const CONTROLLER_NAME = 'agentgateway.dev/agentgateway';
export const CLASS_NAME = 'agentgateway';

export interface LocalOptions {
  readonly paths: readonly string[];
  /** Gateway listener port → local port to bind (unmapped ports bind as they are; 0 picks a free one). */
  readonly portMap: ReadonlyMap<number, number>;
  readonly host: string;
  /** Admin port (healthz, readyz, metrics, config_dump, status); undefined: no admin server. */
  readonly adminPort?: number;
  readonly logger: FastifyBaseLogger;
  /** Where status changes and problems are printed (stdout in the CLI). */
  readonly print: (line: string) => void;
  readonly watch: boolean;
  /** Quiet time after the last file event before a reload, ms (default 150: editors write in bursts). */
  readonly reloadDebounceMs?: number;
  /** Processes serving the listener ports (`--workers`); 1 (default): this process. */
  readonly workers?: number;
}

/**
 * Local mode: manifests from files instead of a cluster, the controller's translate() and JWKS
 * cache, and the proxy, in one process (or the proxy in `--workers` processes: data-plane.ts).
 * Files are watched; each change is applied live. Like the API server, an invalid object is
 * refused and its last valid version is kept.
 */
export class LocalGateway {
  private readonly plane: DataPlane;
  /** What the in-process proxy of each Gateway did with its config, as the config server would report it. */
  private readonly programming = new Map<string, GatewayProgramming>();
  private readonly lastGood = new Map<string, unknown>();
  private readonly printed = new Map<string, string>();
  private readonly watchers: FSWatcher[] = [];
  private readonly jwks: JwksCache;
  private admin: FastifyInstance | undefined;
  private manifests: Manifest[] = [];
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  private last: TranslateOutput | undefined;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;
  private reloads = 0;
  private reloadsApplied = 0;

  constructor(private readonly o: LocalOptions) {
    this.jwks = new JwksCache({
      fetch: (t) => fetchJwks(t),
      now: Date.now,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onChange: () => this.schedule(),
    });
    const planeOptions = {
      host: o.host,
      portMap: o.portMap,
      logger: o.logger,
      print: o.print,
      requestRefetch: (url: string, kid: string) => void this.jwks.refetch(url, kid),
    };
    this.plane = (o.workers ?? 1) > 1 ? new WorkerDataPlane(planeOptions, o.workers as number) : new InProcessDataPlane(planeOptions);
  }

  /** Local ports actually bound, by `<gateway>:<listener port>`. */
  boundPorts(): Map<string, number> {
    return this.plane.bound();
  }

  get adminPort(): number | undefined {
    return (this.admin?.server.address() as { port: number } | null)?.port;
  }

  async start(): Promise<void> {
    this.reload(); // never throws on bad input: load errors are printed, the rest is served
    if (this.o.adminPort !== undefined) {
      this.admin = await buildAdminServer({
        stores: () => this.plane.stores(),
        metrics: { registry: this.plane.registry },
        logger: this.o.logger,
      });
      this.admin.get('/status', async () => Object.fromEntries(this.printed));
      await this.admin.listen({ port: this.o.adminPort, host: this.o.host });
    }
    await this.reconcile();
    await this.firstKeys();
    if (this.o.watch) {
      const debounceMs = this.o.reloadDebounceMs ?? 150;
      for (const p of this.o.paths) {
        // A path that cannot be watched (missing, unreadable) is reported, not fatal: its load
        // error was printed already, and the other paths keep being served and watched.
        let w: FSWatcher;
        try {
          w = watch(p, { recursive: false }, () => {
            if (this.reloadTimer) clearTimeout(this.reloadTimer);
            this.reloadTimer = setTimeout(() => this.reloadAndSchedule(), debounceMs);
          });
        } catch (err) {
          this.o.print(`error: ${p}: cannot watch for changes: ${(err as Error).message}`);
          continue;
        }
        // Without a listener, an 'error' event (e.g. the watched directory is removed on some
        // platforms) would crash the process.
        w.on('error', (err) => this.o.print(`error: ${p}: watching stopped: ${err.message}`));
        this.watchers.push(w);
      }
    }
  }

  /** The file-watch timer's body: nothing may escape it (an exception there ends the process). */
  private reloadAndSchedule(): void {
    try {
      this.reload();
      this.schedule();
    } catch (err) {
      this.o.print(`error: reload failed, previous objects kept: ${(err as Error).message}`);
    }
  }

  /** Longest wait at start for the first fetch of every remote key set, ms. */
  static readonly FIRST_KEYS_WAIT_MS = 5_000;

  /**
   * Waits (bounded) until every remote key set has had a first fetch outcome, so the gateway is
   * announced once it can validate tokens; a failing IdP does not block the start past the bound.
   */
  private async firstKeys(): Promise<void> {
    const deadline = Date.now() + LocalGateway.FIRST_KEYS_WAIT_MS;
    while (Date.now() < deadline && this.jwks.entriesView().some((e) => e.keys === undefined && e.lastError === undefined)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.chain;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.close();
    clearTimeout(this.reloadTimer);
    this.jwks.stop();
    await this.chain;
    await this.plane.close();
    await this.admin?.close();
  }

  /**
   * Re-reads the files. Fails closed per file: a file (or directory) with any load error keeps
   * ALL of its previous objects until it loads cleanly again, so garbage written over a policy
   * never drops the policy. A file that loads with no objects (emptied, only comments) deletes
   * its objects, as `kubectl delete` would: that is an edit, not an error.
   */
  private reload(): void {
    this.reloads++;
    const { manifests, errors } = loadManifests(this.o.paths);
    // Errors name the path exactly as the manifests do (never parsed back out of a message); an
    // error on a directory covers every file under it (e.g. the directory vanished).
    const covers = (e: LoadError, file: string) =>
      file === e.file || file.startsWith(e.file.endsWith(sep) || e.file.endsWith('/') ? e.file : `${e.file}${sep}`);
    const broken = (file: string) => errors.some((e) => covers(e, file));
    const kept = this.manifests.filter((m) => broken(m.file));
    for (const e of errors) {
      const n = kept.filter((m) => covers(e, m.file)).length;
      this.o.print(`error: ${formatLoadError(e)} (${n > 0 ? `previous ${n} object(s) kept` : 'no previous objects'})`);
    }
    const fresh = manifests.filter((m) => !broken(m.file));
    for (const m of fresh) {
      const hint = kindCaseHint(m.object);
      if (hint !== undefined)
        this.o.print(`warning: ${m.file}:${m.lineOf(['kind'])}: ${kindCaseMessage(String((m.object as { kind: unknown }).kind), hint)}`);
      // A rule the controller leaves out (its status says so too), named with its file and line.
      const parsed = parseObjects([m.object]);
      for (const p of routeProblems(m, parsed.httpRoutes)) this.o.print(`error: ${formatProblem(p)} (rule left out)`);
      // An expression that does not parse: the policy is PartiallyValid and the expression fails at every request.
      for (const p of policyProblems(m, parsed.policies))
        this.o.print(`warning: ${formatProblem(p)} (policy PartiallyValid: the expression always fails)`);
    }
    this.manifests = [...kept, ...fresh];
  }

  /** Coalesces change notifications: at most one reconcile runs, and one more is queued. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    this.chain = this.chain
      .then(() => {
        this.pending = false;
        return this.reconcile();
      })
      .catch((err: unknown) => {
        this.o.print(`error: ${(err as Error).message}`);
      });
  }

  private objects(): unknown[] {
    // Per object identity, the newest valid version wins; an invalid one is refused (printed) and
    // the previous valid version stays, as `kubectl apply` of an invalid object changes nothing.
    const current = new Map<string, unknown>();
    for (const m of this.manifests) {
      const parsed = parseObjects([m.object]);
      const o = m.object as { kind?: string; metadata?: { namespace?: string; name?: string } };
      const id = `${o.kind ?? ''} ${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
      if (parsed.problems.length > 0) {
        for (const p of parsed.problems) {
          this.o.print(
            `error: ${m.file}:${m.line}: ${p.ref} refused${this.lastGood.has(id) ? ' (previous version kept)' : ''}: ${formatApiServerIssues(p)}`,
          );
        }
        if (this.lastGood.has(id)) current.set(id, this.lastGood.get(id));
        continue;
      }
      current.set(id, m.object);
    }
    for (const [id, obj] of current) this.lastGood.set(id, obj);
    for (const id of [...this.lastGood.keys()]) if (!current.has(id)) this.lastGood.delete(id);
    return [...current.values()];
  }

  private async reconcile(): Promise<void> {
    const reloads = this.reloads;
    const objects = this.objects();
    // The cluster controller creates the GatewayClass at start when missing; here it is assumed.
    const hasClass = objects.some(
      (o) => (o as { kind?: unknown }).kind === 'GatewayClass' && (o as { metadata?: { name?: unknown } }).metadata?.name === CLASS_NAME,
    );
    const { out, configs } = reconcilePass({
      objects: hasClass ? objects : [...objects, defaultGatewayClass(CLASS_NAME, CONTROLLER_NAME)],
      controllerName: CONTROLLER_NAME,
      jwks: this.jwks.keys(),
    });
    this.jwks.sync(out.jwksRequests);
    for (const [gwKey, cfg] of configs) await this.program(gwKey, cfg);
    for (const gwKey of this.plane.stores().keys()) {
      if (configs.has(gwKey)) continue;
      await this.plane.remove(gwKey);
      this.programming.delete(gwKey);
    }
    this.last = out;
    this.printChanges(out);
    this.reloadsApplied = reloads;
  }

  private async program(gwKey: string, cfg: ProxyConfig): Promise<void> {
    const applied = await this.plane.apply(gwKey, cfg);
    if (!applied.changed) return;
    const proxies = this.plane.replicas;
    this.programming.set(gwKey, {
      proxies,
      version: cfg.version,
      acked: applied.error === undefined ? proxies : 0,
      warnings: applied.warnings.map((warning) => ({ proxy: 'local', warning })),
      nacks: applied.error === undefined ? [] : [{ proxy: 'local', reason: applied.error }],
    });
  }

  private printChanges(out: TranslateOutput): void {
    // Local mode's one config is applied or not at once: no policy waits on a version in between.
    const programmed = new Map(
      [...this.programming].map(([gw, p]) => [
        gw,
        { gateway: programmedCondition(gw, p, undefined), policies: policyProgrammedCondition(gw, p, undefined, undefined) },
      ]),
    );
    const lines = statusLines(out, programmed);
    for (const [key, text] of lines) {
      if (this.printed.get(key) === text) continue;
      this.printed.set(key, text);
      this.o.print(`${key}: ${text}`);
    }
    for (const key of [...this.printed.keys()])
      if (!lines.has(key)) {
        this.printed.delete(key);
        this.o.print(`${key}: (gone)`);
      }
  }

  /**
   * File reloads (the one at start included) whose objects are translated and programmed: a
   * reconcile that started before a reload does not count it. Tests wait on it after a write.
   */
  get appliedReloads(): number {
    return this.reloadsApplied;
  }

  /** The last translation, for tests and `agw local --once`. */
  get lastOutput(): TranslateOutput | undefined {
    return this.last;
  }
}
