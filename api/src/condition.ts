import { z } from 'zod';

/** A status condition, as metav1.Condition (the shape Gateway API status uses). */
export const Condition = z
  .object({
    type: z.string().min(1).max(316).describe('Type of condition in CamelCase, e.g. Accepted.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z.number().int().min(0).optional().describe('The .metadata.generation the condition was computed from.'),
    lastTransitionTime: z.string().describe('Last time (RFC 3339) the status flipped; unchanged when only reason or message change.'),
    reason: z.string().min(1).max(1024).describe('Machine-readable CamelCase reason for the last transition.'),
    message: z.string().max(32768).describe('Human-readable explanation.'),
  })
  .describe('Condition contains details for one aspect of the current state of this API resource.');
export type Condition = z.output<typeof Condition>;

/** Condition types and reasons of AgentgatewayPolicy status, as upstream (policy_types.go). */
export const PolicyConditionType = { Accepted: 'Accepted', Attached: 'Attached', Programmed: 'Programmed' } as const;
export const PolicyReason = {
  Valid: 'Valid',
  PartiallyValid: 'PartiallyValid',
  Invalid: 'Invalid',
  Pending: 'Pending',
  Attached: 'Attached',
  Programmed: 'Programmed',
  Rejected: 'Rejected',
} as const;

/**
 * Every condition type this project writes (Gateway API's for GatewayClass, Gateway, listeners and
 * HTTPRoute parents; upstream's PolicyConditionMap for AgentgatewayPolicy ancestors; Programmed ours).
 */
export const ConditionType = {
  Accepted: 'Accepted',
  Attached: 'Attached',
  Programmed: 'Programmed',
  ResolvedRefs: 'ResolvedRefs',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

/** Every reason this project writes: Gateway API's spelling where it has one, upstream's for policies. */
export const ConditionReason = {
  ...PolicyReason,
  Accepted: 'Accepted',
  ResolvedRefs: 'ResolvedRefs',
  // GatewayClass
  InvalidParameters: 'InvalidParameters',
  // Listener
  UnsupportedProtocol: 'UnsupportedProtocol',
  // HTTPRoute parent
  NoMatchingParent: 'NoMatchingParent',
  NotAllowedByListeners: 'NotAllowedByListeners',
  NoMatchingListenerHostname: 'NoMatchingListenerHostname',
  UnsupportedValue: 'UnsupportedValue',
  BackendNotFound: 'BackendNotFound',
  RefNotPermitted: 'RefNotPermitted',
  InvalidKind: 'InvalidKind',
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];
