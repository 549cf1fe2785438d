import type { FastifyBaseLogger } from 'fastify';

type Bindings = Record<string, unknown>;
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Fastify's per-request logger (`req.log`), made only when a request logs through it. Fastify
 * builds a pino child per request by default (bindings serialised, level methods rebuilt): ~2% of
 * a no-policy request's CPU in the profile of issue 18, for a logger most requests never use (the
 * access log goes through the parent with the request id as a field; req.log is for failures).
 * The line a request logs is the same either way: the parent's bindings plus `reqId`.
 */
class LazyChildLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: object,
  ) {}

  private get real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.opts));
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  // Prototype methods (no closures per request): each forwards to the child, made on first use.
  fatal(...a: unknown[]): void {
    this.log('fatal', a);
  }
  error(...a: unknown[]): void {
    this.log('error', a);
  }
  warn(...a: unknown[]): void {
    this.log('warn', a);
  }
  info(...a: unknown[]): void {
    this.log('info', a);
  }
  debug(...a: unknown[]): void {
    this.log('debug', a);
  }
  trace(...a: unknown[]): void {
    this.log('trace', a);
  }
  silent(): void {}
  private log(level: Level, args: unknown[]): void {
    (this.real[level] as (...x: unknown[]) => void)(...args);
  }
  child(bindings: Bindings, opts?: object): FastifyBaseLogger {
    return this.real.child(bindings, opts);
  }
}

/** Fastify's `childLoggerFactory`: a LazyChildLogger in place of `logger.child(bindings, opts)`. */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, opts: object): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
