import type { AgentgatewayBackend, CompiledBackendTlsPolicy } from '@agw/api';
import { staticHostProblem } from './backends.js';
import { agentgatewayBackendKey, compileBackendTls } from './features/backend-tls.js';
import { cond, keyOf, type CaBundleCheck, type ObjectKey, type PendingCondition } from './model.js';

export interface TranslatedAgentgatewayBackends {
  /**
   * Each backend's own `spec.policies.tls`, compiled under `AgentgatewayBackend/<ns>/<name>`, by
   * `<ns>/<name>`: it wins over every AgentgatewayPolicy `backend.tls` (upstream: backend policies
   * take precedence over policy resources). One whose CA reference does not resolve refuses every
   * connection (`invalid`), for routes and JWKS fetches alike.
   */
  readonly ownTls: ReadonlyMap<ObjectKey, CompiledBackendTlsPolicy>;
  /** Every backend's conditions: Accepted True, or False Invalid with what is wrong. */
  readonly status: Map<ObjectKey, PendingCondition[]>;
}

/**
 * AgentgatewayBackends on their own, pure: the TLS of their `policies.tls` and their status. A
 * backend is Accepted unless its `static.host` is not a host name or IP address (references to it
 * then do not resolve) or its `policies.tls` CA reference does not resolve (connections fail closed).
 */
export function translateAgentgatewayBackends(
  backends: readonly AgentgatewayBackend[],
  caBundles: ReadonlyMap<ObjectKey, CaBundleCheck>,
): TranslatedAgentgatewayBackends {
  const ownTls = new Map<ObjectKey, CompiledBackendTlsPolicy>();
  const status = new Map<ObjectKey, PendingCondition[]>();
  for (const b of backends) {
    const key = keyOf(b);
    const problems: string[] = [];
    const host = b.spec.static?.host;
    const hostProblem = host === undefined ? 'only static backends are supported' : staticHostProblem(host);
    if (hostProblem !== undefined) problems.push(hostProblem);
    const tls = b.spec.policies?.tls;
    if (tls !== undefined) {
      const t = compileBackendTls(
        agentgatewayBackendKey(key),
        b.metadata.namespace ?? '',
        tls,
        caBundles,
        `AgentgatewayBackend ${key} policies.tls`,
      );
      ownTls.set(key, t.compiled);
      if (t.problem !== undefined) problems.push(`policies.tls: ${t.problem}; connections to the backend fail`);
    }
    const g = b.metadata.generation;
    status.set(key, [
      problems.length === 0
        ? cond('Accepted', true, 'Accepted', 'Backend accepted', g)
        : cond('Accepted', false, 'Invalid', problems.join('; '), g),
    ]);
  }
  return { ownTls, status };
}
