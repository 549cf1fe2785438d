import { parseDurationMs } from '@agw/api';
import { mintFromKey, passwordGrant } from '../token.js';

/** The options of `agw token` (see main.ts for help and defaults). */
export interface TokenOptions {
  user?: string;
  password: string;
  issuer: string;
  clientId: string;
  key?: string;
  /** A JSON object (checked by the option's parser). */
  claims: Record<string, unknown>;
  /** A duration such as 30m or 1h: lifetime of a --key token. */
  ttl: string;
}

/** `agw token`: prints one token on stdout (and nothing else, for `TOKEN=$(agw token …)`). */
export async function runToken(o: TokenOptions, usage: (message: string) => never): Promise<void> {
  let t: string;
  if (o.key !== undefined) {
    const ttlMs = parseDurationMs(o.ttl);
    if (ttlMs === undefined) usage(`--ttl ${o.ttl}: expected a duration such as 30m or 1h`);
    t = await mintFromKey({ keyFile: o.key, claims: o.claims, ttlSec: Math.floor(ttlMs / 1000) });
  } else if (o.user !== undefined) {
    t = await passwordGrant({ issuer: o.issuer, user: o.user, password: o.password, clientId: o.clientId });
  } else {
    usage('needs --user <user> (a password grant) or --key <private.jwk>');
  }
  process.stdout.write(`${t}\n`);
}
