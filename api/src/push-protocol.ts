import { z } from 'zod';
import { ProxyConfig } from './proxy-config.js';

/**
 * Messages of the config stream between controller and proxies (one bidirectional stream per
 * proxy). Carried as JSON; both sides parse with these schemas. Versioned by PUSH_PROTOCOL_VERSION.
 */
export const PUSH_PROTOCOL_VERSION = 1;

export const ProxyToController = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocolVersion: z.literal(PUSH_PROTOCOL_VERSION),
    gateway: z.object({ namespace: z.string(), name: z.string() }),
    /** Pod name or another id unique among the gateway's proxies. */
    proxyId: z.string().min(1),
  }),
  z.object({ type: z.literal('ack'), version: z.string() }),
  z.object({ type: z.literal('nack'), version: z.string(), reason: z.string() }),
  /** A token carried a kid that no provider of this issuer knows: ask for a refetch. */
  z.object({ type: z.literal('refetchKeys'), remoteUrl: z.string(), kid: z.string() }),
]);
export type ProxyToController = z.output<typeof ProxyToController>;

export const ControllerToProxy = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), config: ProxyConfig }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ControllerToProxy = z.output<typeof ControllerToProxy>;
