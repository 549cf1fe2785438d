import type { z } from 'zod';
import { ControllerToProxy, ProxyToController } from './push-protocol.js';

/**
 * The config stream as a gRPC method: one bidirectional stream per proxy, messages are the zod
 * contract's JSON (UTF-8) in gRPC frames, so no .proto file or code generation is needed and both
 * sides validate with the same schemas. Proxies authenticate with a ServiceAccount token in the
 * `authorization: Bearer <token>` metadata (checked by TokenReview, audience PUSH_TOKEN_AUDIENCE).
 */
export const PUSH_METHOD_PATH = '/agentgateway.ts.v1.ConfigService/Stream';
export const PUSH_TOKEN_AUDIENCE = 'agentgateway';

/**
 * Largest message on the config stream, bytes (64 MiB). gRPC's default receive limit is 4 MiB, and
 * one Gateway with ~10,000 routes is already ~4 MiB of JSON: both sides set this one bound. The
 * controller does not send a snapshot over it (the Gateway's Programmed says why) rather than have
 * the proxy refuse it and reconnect for ever.
 */
export const MAX_PUSH_MESSAGE_BYTES = 64 * 1024 * 1024;

export function encodeMessage(message: ProxyToController | ControllerToProxy): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

function decodeWith<S extends z.ZodType>(schema: S, bytes: Uint8Array): z.output<S> {
  return schema.parse(JSON.parse(new TextDecoder().decode(bytes)));
}

/** Throws (a zod or JSON error) on a message outside the contract: the stream is then closed. */
export const decodeProxyMessage = (bytes: Uint8Array): ProxyToController => decodeWith(ProxyToController, bytes);
export const decodeControllerMessage = (bytes: Uint8Array): ControllerToProxy => decodeWith(ControllerToProxy, bytes);
