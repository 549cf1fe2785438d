import { readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { parse } from 'yaml';
import { applyConfig } from './apply.js';
import type { ConfigStore } from './store.js';

/** Largest config file read, bytes (16 MiB: a 10,000-route config is ~5 MiB of JSON). */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;
/** YAML aliases expanded at most (a config never needs them; the bound stops an alias bomb). */
const MAX_ALIAS_COUNT = 100;

/** Reads a JSON or YAML config file into the store; YAML is a superset of JSON. Any failure keeps the current config. */
export async function loadConfigFile(store: ConfigStore, path: string): Promise<string | undefined> {
  let input: unknown;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    input = parse(await readFile(path, 'utf8'), { maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const error = `cannot read ${path}: ${(err as Error).message}`;
    store.reject(undefined, error);
    return error;
  }
  return applyConfig(store, input);
}

/**
 * Watches a config file and re-applies it on change (debounced by `debounceMs`, default 100 ms,
 * since editors write in several steps). A bad edit is rejected; the last good config keeps serving.
 */
export function watchConfigFile(store: ConfigStore, path: string, debounceMs = 100): FSWatcher {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return watch(path, () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      void loadConfigFile(store, path);
    }, debounceMs);
  });
}
