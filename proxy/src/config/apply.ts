import { compileConfig } from './compile.js';
import type { ConfigStore } from './store.js';

/** Compile and swap in a config, or record the rejection. Resolves to the error text, if any. */
export async function applyConfig(store: ConfigStore, input: unknown): Promise<string | undefined> {
  const result = await compileConfig(input, store.jwtCacheEntries, store.current);
  if (result.ok) {
    store.swap(result.runtime);
    return undefined;
  }
  const version =
    typeof input === 'object' && input !== null && typeof (input as { version?: unknown }).version === 'string'
      ? (input as { version: string }).version
      : undefined;
  store.reject(version, result.error);
  return result.error;
}
