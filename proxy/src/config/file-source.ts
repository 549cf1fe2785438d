import { readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { applyConfig } from './apply.js';
import type { ConfigStore } from './store.js';

/** Largest config file read, bytes (16 MiB: a 10,000-route config is ~5 MiB of JSON). */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;
/** YAML aliases expanded at most (a config never needs them; the bound stops an alias bomb). */
const MAX_ALIAS_COUNT = 100;

/**
 * A config file's text as JSON, or else as YAML (a superset of JSON). JSON is tried first: configs
 * are JSON (what the controller and `agw local` write), and the YAML parser costs ~100 times more
 * (a 1,000-route file: 554 ms and 231 MiB allocated, against 5 ms and 1 MiB), garbage that kept a
 * proxy's RSS up for a minute after each load. The YAML parser is loaded only when needed. One
 * difference: a key repeated in a JSON file keeps its last value (as `JSON.parse` and the config
 * stream do) where YAML refuses the file.
 */
async function parseConfigText(text: string): Promise<unknown> {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const { parse } = await import('yaml');
    return parse(text, { maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  }
}

/** Reads a JSON or YAML config file into the store. Any failure keeps the current config. */
export async function loadConfigFile(store: ConfigStore, path: string): Promise<string | undefined> {
  let input: unknown;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    input = await parseConfigText(await readFile(path, 'utf8'));
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
