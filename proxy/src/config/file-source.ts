import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { parse } from 'yaml';
import { applyConfig } from './apply.js';
import type { ConfigStore } from './store.js';

/** Reads a JSON or YAML config file into the store; YAML is a superset of JSON. */
export async function loadConfigFile(store: ConfigStore, path: string): Promise<string | undefined> {
  let input: unknown;
  try {
    input = parse(await readFile(path, 'utf8'));
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
    timer = setTimeout(() => { void loadConfigFile(store, path); }, debounceMs);
  });
}
