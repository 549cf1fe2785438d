import type { RuntimeConfig } from './compile.js';

export type ConfigEvent =
  | { readonly type: 'applied'; readonly version: string; readonly warnings: readonly string[] }
  | { readonly type: 'rejected'; readonly version: string | undefined; readonly error: string };

/**
 * Holds the config being served. A request takes `current` once, when it starts, and keeps that
 * object: a swap never changes the rules under an in-flight request.
 */
export class ConfigStore {
  private runtime: RuntimeConfig | undefined;

  /** @param jwtCacheEntries verified-token cache bound per JWT policy (default 10 000; 0 disables it). */
  constructor(readonly jwtCacheEntries?: number) {}
  private readonly listeners = new Set<(e: ConfigEvent) => void>();

  get current(): RuntimeConfig | undefined {
    return this.runtime;
  }

  swap(runtime: RuntimeConfig): void {
    this.runtime = runtime;
    this.emit({ type: 'applied', version: runtime.config.version, warnings: runtime.warnings });
  }

  /** Records a rejected config; the current one keeps serving. */
  reject(version: string | undefined, error: string): void {
    this.emit({ type: 'rejected', version, error });
  }

  onChange(fn: (e: ConfigEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: ConfigEvent): void {
    for (const fn of this.listeners) fn(e);
  }
}

/** Resolves true at the next applied config, false after `timeoutMs` (bounded wait for new keys). */
export function waitForNextConfig(store: ConfigStore, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const off = store.onChange((e) => {
      if (e.type !== 'applied') return;
      clearTimeout(timer);
      off();
      resolve(true);
    });
    const timer = setTimeout(() => {
      off();
      resolve(false);
    }, timeoutMs);
  });
}
