import type { GatewayClass, ProxyConfig } from '@agw/api';
import { withVersion } from '../push/config-version.js';
import { parseObjects, type ParseMemo, type ParsedObjects } from '../resources/parse-objects.js';
import { referencedCaBundles } from '../resources/ca-bundles.js';
import { referencedTlsSecrets } from '../resources/tls-secrets.js';
import { invalidBackendStatus, invalidPolicyStatus } from '../status/invalid-policies.js';
import type { JwksKeys, ObjectKey, TranslateOutput } from '../translate/model.js';
import { translate } from '../translate/translate.js';
import { changeScope, type PassInputs } from './change-scope.js';

export interface ReconcilePassInput {
  /** Every watched object, as read from the API server's caches or from files. */
  readonly objects: readonly unknown[];
  readonly controllerName: string;
  readonly jwks: ReadonlyMap<string, JwksKeys>;
  /** Last fetch errors of JWKS URLs without usable keys (the key store's), for the policy status. */
  readonly jwksErrors?: ReadonlyMap<string, string>;
  /** Parses kept across passes (by object, and by name across status-only updates: parse-objects.ts). */
  readonly memo?: ParseMemo;
  /**
   * The previous pass (with the same memo): when only HTTPRoutes and policies changed since, the
   * Gateways none of them touches keep their compiled and versioned config (change-scope.ts).
   */
  readonly previous?: ReconcilePass;
  /**
   * No two objects of one kind share a namespace and name: true of the cluster's informer caches
   * (keyed by them), not of files (two may define one object). Lets a pass compare only the part
   * of each list that changed (change-scope.ts).
   */
  readonly namesUnique?: boolean;
}

export interface ReconcilePass {
  readonly parsed: ParsedObjects;
  /** Every status, including Accepted=False Invalid for policies and AgentgatewayBackends that do not parse. */
  readonly out: TranslateOutput;
  /** Per Gateway, the versioned config to push (same content, same version). */
  readonly configs: ReadonlyMap<string, ProxyConfig>;
  /** What this pass read, for the next pass's comparison. */
  readonly inputs: PassInputs;
  /** Gateways compiled by this pass ('all', or those a change of routes and policies touched); the others kept the previous pass's config. */
  readonly compiled: ReadonlySet<ObjectKey> | 'all';
}

/**
 * One reconcile, as the cluster controller and `agw local` both run it: parse at the boundary,
 * check the certificate Secrets Gateways refer to, translate, add the status of policies that do
 * not parse, version each config. No I/O: the
 * callers read objects and keys before, and push configs and write statuses after.
 */
export function reconcilePass(input: ReconcilePassInput): ReconcilePass {
  const parsed = parseObjects(input.objects, 'default', input.memo);
  const inputs: PassInputs = { parsed, jwks: input.jwks, jwksErrors: input.jwksErrors, namesUnique: input.namesUnique };
  const previous = input.previous;
  const scope = changeScope(previous?.inputs, inputs);
  const reuse = previous !== undefined && scope !== 'all' ? { previous: previous.out, scope } : undefined;
  // Secrets and ConfigMaps are not passed through: only the referenced ones, checked.
  const { secrets, configMaps, ...resources } = parsed;
  const translated = translate(
    {
      ...resources,
      controllerName: input.controllerName,
      jwks: input.jwks,
      tlsSecrets: referencedTlsSecrets(parsed.gateways, secrets),
      caBundles: referencedCaBundles(parsed.backendTlsPolicies ?? [], configMaps, parsed.policies, parsed.agentgatewayBackends),
      ...(input.jwksErrors !== undefined ? { jwksErrors: input.jwksErrors } : {}),
    },
    reuse,
  );
  const policies = new Map([...translated.status.policies, ...invalidPolicyStatus(parsed.problems, input.controllerName)]);
  const agentgatewayBackends = new Map([...translated.status.agentgatewayBackends, ...invalidBackendStatus(parsed.problems)]);
  const out: TranslateOutput = { ...translated, status: { ...translated.status, policies, agentgatewayBackends } };
  // A config translate kept (the same object as the previous pass's) keeps its version: no JSON, no hash.
  const configs = new Map(
    [...out.configs].map(([gw, cfg]) => {
      const kept = previous !== undefined && previous.out.configs.get(gw) === cfg ? previous.configs.get(gw) : undefined;
      return [gw, kept ?? withVersion(cfg)];
    }),
  );
  const compiled =
    reuse === undefined ? 'all' : new Set([...out.configs.keys()].filter((gw) => out.configs.get(gw) !== reuse.previous.configs.get(gw)));
  return { parsed, out, configs, inputs, compiled };
}

/** The GatewayClass the controller creates at start when missing (and local mode assumes when absent from its files). */
export function defaultGatewayClass(className: string, controllerName: string): GatewayClass {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: className },
    spec: { controllerName, description: 'Specialized class for agentgateway.' },
  };
}
