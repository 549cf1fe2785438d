import {
  AgentgatewayPolicy, EndpointSlice, Gateway, GatewayClass, HttpRoute, POLICY_GROUP, ReferenceGrant, Service,
} from '@agw/api';
import type { z } from 'zod';
import type { TranslateInput } from '../translate/model.js';

/** Kinds read, by `<group>/<kind>` (core group ''), with their boundary parser. */
const PARSERS: Record<string, z.ZodType> = {
  'gateway.networking.k8s.io/GatewayClass': GatewayClass,
  'gateway.networking.k8s.io/Gateway': Gateway,
  'gateway.networking.k8s.io/HTTPRoute': HttpRoute,
  'gateway.networking.k8s.io/ReferenceGrant': ReferenceGrant,
  [`${POLICY_GROUP}/AgentgatewayPolicy`]: AgentgatewayPolicy,
  '/Service': Service,
  'discovery.k8s.io/EndpointSlice': EndpointSlice,
};

export interface ObjectProblem {
  /** `<Kind> <namespace>/<name>` (or a document index when unnamed). */
  readonly ref: string;
  /** Field path and message of each issue, e.g. `spec.traffic.jwtAuthentication.providers: Too small`. */
  readonly issues: string[];
  readonly object: unknown;
}

export type ParsedObjects = Omit<TranslateInput, 'controllerName' | 'jwks'> & { readonly problems: ObjectProblem[]; readonly ignored: string[] };

/** `path: message`, with unknown keys worded as the API server's strict field validation does. */
function formatIssue(iss: z.core.$ZodIssue): string[] {
  const path = iss.path.map(String).join('.');
  if (iss.code === 'unrecognized_keys') return iss.keys.map((k) => `${path || '(root)'}: unknown field "${path ? `${path}.` : ''}${k}"`);
  return [`${path || '(root)'}: ${iss.message}`];
}

function groupOf(apiVersion: unknown): string {
  const v = String(apiVersion ?? '');
  return v.includes('/') ? v.slice(0, v.indexOf('/')) : '';
}

/**
 * Parses raw objects (from the API server or from files) with the contract's zod schemas. An
 * object that does not parse becomes an ObjectProblem (later a status condition or a CLI error),
 * never an exception. Unknown kinds are listed in `ignored`.
 */
export function parseObjects(objects: readonly unknown[], defaultNamespace = 'default'): ParsedObjects {
  const out = {
    gatewayClasses: [] as GatewayClass[], gateways: [] as Gateway[], httpRoutes: [] as HttpRoute[], policies: [] as AgentgatewayPolicy[],
    services: [] as Service[], endpointSlices: [] as EndpointSlice[], referenceGrants: [] as ReferenceGrant[],
    problems: [] as ObjectProblem[], ignored: [] as string[],
  };
  objects.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') return;
    const o = raw as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    const kind = String(o.kind ?? '');
    const name = `${kind} ${typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : defaultNamespace}/${String(o.metadata?.name ?? `#${i}`)}`;
    const parser = PARSERS[`${groupOf(o.apiVersion)}/${kind}`];
    if (parser === undefined) { out.ignored.push(name); return; }
    const withNs = kind === 'GatewayClass' || o.metadata?.namespace !== undefined ? raw : { ...o, metadata: { ...o.metadata, namespace: defaultNamespace } };
    const r = parser.safeParse(withNs);
    if (!r.success) {
      out.problems.push({ ref: name, object: raw, issues: r.error.issues.flatMap(formatIssue) });
      return;
    }
    switch (kind) {
      case 'GatewayClass': out.gatewayClasses.push(r.data as GatewayClass); break;
      case 'Gateway': out.gateways.push(r.data as Gateway); break;
      case 'HTTPRoute': out.httpRoutes.push(r.data as HttpRoute); break;
      case 'ReferenceGrant': out.referenceGrants.push(r.data as ReferenceGrant); break;
      case 'AgentgatewayPolicy': out.policies.push(r.data as AgentgatewayPolicy); break;
      case 'Service': out.services.push(r.data as Service); break;
      case 'EndpointSlice': out.endpointSlices.push(r.data as EndpointSlice); break;
    }
  });
  return out;
}
