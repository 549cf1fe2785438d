import { createHash } from 'node:crypto';

/**
 * A digest of an object without its status, resourceVersion and managedFields: equal before and
 * after an update that wrote only the status subresource (which changes exactly those). Labels,
 * annotations, generation and spec all count (policy selectors read labels). The informers use it
 * to tell a status-only update from a change; the parse memo to keep the parsed object across one.
 */
export function withoutStatusFingerprint(o: object): string {
  const { status: _status, metadata, ...rest } = o as { status?: unknown; metadata?: Record<string, unknown> };
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata ?? {};
  return createHash('sha256')
    .update(JSON.stringify([meta, rest]))
    .digest('base64');
}
