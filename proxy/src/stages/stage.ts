import type { PolicyRefs } from '@agw/api';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A feature of PolicyRefs that runs as a request stage (backend auth and backend TLS apply at forwarding instead). */
export type StageFeature = Exclude<keyof PolicyRefs, 'backendAuth' | 'backendTls'>;

/**
 * A policy feature's proxy stage. `run` answers the request (a rejection: true) or lets it go on
 * (false); it is synchronous unless it must wait (the JWT stage waits, bounded, for new keys after
 * an unknown kid; a stage whose expressions read `request.body` waits for the body), so the common
 * request costs no promise. A stage never forwards and never edits the request in place: what it
 * wants changed upstream goes on `req.agw.edits`. `ref` is what the route or listener names: a
 * policy key, or for a merge-all feature (authorization) the list of keys.
 */
export interface PolicyStage<F extends StageFeature = StageFeature> {
  readonly feature: F;
  run(req: FastifyRequest, reply: FastifyReply, ref: NonNullable<PolicyRefs[F]>): boolean | Promise<boolean>;
}
