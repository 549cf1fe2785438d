import { createHash } from 'node:crypto';
import type { ProxyConfig } from '@agw/api';

/**
 * Adds the version: the first 16 hex digits of the SHA-256 of the config's JSON. Same content,
 * same version, so a re-translation that changes nothing pushes nothing.
 */
export function withVersion(config: Omit<ProxyConfig, 'version'>): ProxyConfig {
  const version = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  return { ...config, version };
}
