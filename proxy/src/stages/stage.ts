import type { PolicyRefs } from '@agw/api';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A feature of PolicyRefs: the key a listener or route names its policy of that feature by. */
export type StageFeature = keyof PolicyRefs;

/**
 * A policy feature's proxy stage. `run` answers the request (a rejection: true) or lets it go on
 * (false); it is synchronous unless it must wait (the JWT stage waits, bounded, for new keys after
 * an unknown kid), so the common request costs no promise. A stage never forwards and never edits
 * the request in place: what it wants changed upstream goes on `req.agw.edits`.
 */
export interface PolicyStage {
  readonly feature: StageFeature;
  run(req: FastifyRequest, reply: FastifyReply, policyKey: string): boolean | Promise<boolean>;
}
