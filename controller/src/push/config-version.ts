import { createHash } from 'node:crypto';
import type { ProxyConfig } from '@agw/api';

/**
 * The JSON withVersion hashed, per versioned config, until the config server encodes its snapshot
 * (configJson): one JSON.stringify per version instead of two (~7 ms for a Gateway of 1,500 routes
 * and 500 JWT policies). Weak: a config no one holds any more takes its JSON with it.
 */
const hashedJson = new WeakMap<ProxyConfig, string>();

/**
 * Adds the version: the first 16 hex digits of the SHA-256 of the config's JSON. Same content,
 * same version, so a re-translation that changes nothing pushes nothing.
 */
export function withVersion(config: Omit<ProxyConfig, 'version'>): ProxyConfig {
  const json = JSON.stringify(config);
  const version = createHash('sha256').update(json).digest('hex').slice(0, 16);
  const versioned = { ...config, version };
  // `version` is then the last key: its JSON is `json` with it appended (a config of no keys has none to reuse).
  if (json.length > 2 && !Object.hasOwn(config, 'version')) hashedJson.set(versioned, json);
  return versioned;
}

/**
 * JSON.stringify(config), the same string: from the JSON withVersion hashed while it is held (then
 * forgotten: the caller keeps what it makes of it), else stringified anew.
 */
export function configJson(config: ProxyConfig): string {
  const json = hashedJson.get(config);
  if (json === undefined) return JSON.stringify(config);
  hashedJson.delete(config);
  return `${json.slice(0, -1)},"version":${JSON.stringify(config.version)}}`;
}

/** Forgets the JSON held for a config (one no proxy is sent: it need not stay in memory with it). */
export function forgetConfigJson(config: ProxyConfig): void {
  hashedJson.delete(config);
}
