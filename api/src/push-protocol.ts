import { z } from 'zod';

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
  z.object({
    type: z.literal('ack'),
    version: z.string(),
    /** What the proxy left out of an applied config (a route or policy it could not compile); at most 20. */
    warnings: z.array(z.string().max(2048)).max(20).optional(),
  }),
  z.object({ type: z.literal('nack'), version: z.string(), reason: z.string() }),
  /** A token carried a kid that no provider of this issuer knows: ask for a refetch. */
  z.object({ type: z.literal('refetchKeys'), remoteUrl: z.string(), kid: z.string() }),
]);
export type ProxyToController = z.output<typeof ProxyToController>;

export const ControllerToProxy = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('snapshot'),
    /**
     * A ProxyConfig. Only its version is checked on the wire: the proxy validates the rest part by
     * part when it compiles it (compileConfig), so a part it cannot use is left out and reported
     * in the ACK, and a broken frame is NACKed, instead of the stream failing to decode.
     */
    config: z.looseObject({ version: z.string().min(1) }),
  }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ControllerToProxy = z.output<typeof ControllerToProxy>;
