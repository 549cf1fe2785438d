import {
  DEFAULT_CREDENTIAL_TARGET,
  type AgentgatewayPolicy,
  type BackendAuthLocation,
  type CompiledBackendAuthPolicy,
  type CompiledCredentialTarget,
} from '@agw/api';
import { keyOf } from '../model.js';
import type { PolicyFeature } from './feature.js';

/**
 * Where the credential goes on the backend request. Default (no location): upstream's
 * `Authorization: Bearer <token>`. Header names are lower-cased (the proxy's form), the prefix is
 * kept as written (it is part of the value).
 */
export function credentialTarget(loc: BackendAuthLocation | undefined): CompiledCredentialTarget {
  if (loc?.header !== undefined)
    return {
      kind: 'header',
      name: loc.header.name.toLowerCase(),
      ...(loc.header.prefix !== undefined ? { prefix: loc.header.prefix } : {}),
    };
  if (loc?.queryParameter !== undefined) return { kind: 'query', name: loc.queryParameter.name };
  if (loc?.cookie !== undefined) return { kind: 'cookie', name: loc.cookie.name };
  return DEFAULT_CREDENTIAL_TARGET;
}

/** `spec.backend.auth.passthrough` → the request's validated JWT, written at the target (nothing without one). */
export function translateBackendAuth(policy: AgentgatewayPolicy): CompiledBackendAuthPolicy | undefined {
  const auth = policy.spec.backend?.auth;
  if (auth?.passthrough === undefined) return undefined;
  return { policy: keyOf(policy), passthrough: true, target: credentialTarget(auth.location) };
}

/**
 * `spec.backend.auth`: per backend call, after routing (scope `backend`). Most specific replaces:
 * Service > route rule > route > listener > Gateway. `traffic.phase` does not apply to it: a
 * PreRouting policy's backend part acts at its Gateway or listener level for every route there.
 */
export const backendAuthFeature: PolicyFeature<'backendAuth'> = {
  name: 'backendAuth',
  scope: 'backend',
  phases: new Set(['Route']),
  merge: 'most-specific',
  translate(policy) {
    const compiled = translateBackendAuth(policy);
    return compiled === undefined ? undefined : { compiled, errors: [], notes: [], jwksRequests: [] };
  },
};
