import { createHash } from 'node:crypto';
import { PUSH_TOKEN_AUDIENCE } from '@agw/api';
import type { KubeRest } from '../kube/kube-rest.js';
import type { Authenticate, ProxyIdentity } from './config-server.js';

/** How long a successful review is reused for the same token, ms (reconnect storms cost one review). */
const CACHE_MS = 60_000;

/**
 * Authenticates proxies with a TokenReview of their projected ServiceAccount token (audience
 * `agentgateway`). The ServiceAccount `<ns>/<name>` may read the config of Gateway `<ns>/<name>`
 * only: the deployer gives every Gateway's proxy a ServiceAccount named after the Gateway.
 */
export function tokenReviewAuthenticator(rest: KubeRest, now: () => number): Authenticate {
  const cache = new Map<string, { identity: ProxyIdentity; until: number }>();
  return async (token) => {
    if (token === undefined || token === '') throw new Error('no bearer token');
    const key = createHash('sha256').update(token).digest('hex');
    const hit = cache.get(key);
    if (hit !== undefined && hit.until > now()) return hit.identity;
    const r = await rest.call<{ status?: { authenticated?: boolean; user?: { username?: string }; error?: string } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: [PUSH_TOKEN_AUDIENCE] },
      },
    );
    const st = r.body.status;
    if (st?.authenticated !== true) throw new Error(`token not authenticated${st?.error ? `: ${st.error}` : ''}`);
    const user = st.user?.username ?? '';
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
    if (!m) throw new Error(`${user} is not a ServiceAccount`);
    const identity = { user, allowedGateways: new Set([`${m[1]}/${m[2]}`]) };
    cache.set(key, { identity, until: now() + CACHE_MS });
    return identity;
  };
}

/** No authentication (local development, tests without an API server). */
export const allowAll: Authenticate = async () => ({ user: 'anonymous' });
