import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import type { KeycloakAdmin } from '@agw/test-kit';
import type { Credential } from './traffic-mix.js';

export interface SoakClients {
  /** Its tokens carry the policies' audience: the valid ones. */
  readonly main: { clientId: string; clientSecret: string };
  /** Same realm and keys, no audience mapper: wrong audience. */
  readonly other: { clientId: string; clientSecret: string };
  /** Tokens that live 10 s: expired ones, once past exp + the 60 s leeway. */
  readonly shortLived: { clientId: string; clientSecret: string };
}

/** An expired token is used only this long after exp: the proxy's 60 s leeway plus 5 s of margin. */
const EXPIRED_AFTER_MS = 65_000;

/**
 * The credentials the load sends, from real Keycloak. `refresh()` fetches new tokens (it throws
 * while Keycloak is down: the caller keeps the tokens it has, which outlive the outage); every
 * token kept is signed by a key that Keycloak's JWKS held at the last refresh, so "valid" means
 * what the issue says: signed by the IdP's current or previous key.
 */
export class TokenPool {
  private valid: string[] = [];
  private wrongAudience: string[] = [];
  private garbage: string[] = [];
  private forged: string[] = [];
  /** short-lived tokens with the time they count as expired (ms since epoch) */
  private expiring: Array<{ token: string; kid: string; usableAt: number }> = [];
  private liveKids = new Set<string>();
  private readonly forgeKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  refreshes = 0;

  constructor(
    private readonly kc: KeycloakAdmin,
    private readonly clients: SoakClients,
    private readonly users: readonly string[],
  ) {}

  /** Kids of the tokens that count as valid now. */
  get validKids(): string[] {
    return [...new Set(this.valid.map((t) => decodeProtectedHeader(t).kid ?? ''))];
  }

  async refresh(): Promise<void> {
    const certs = (await (await fetch(`${this.kc.url}/realms/master/protocol/openid-connect/certs`)).json()) as {
      keys: Array<{ kid: string; use?: string }>;
    };
    const valid = await Promise.all(this.users.map((u) => this.kc.token(u, this.clients.main)));
    const wrongAudience = await Promise.all(this.users.map((u) => this.kc.token(u, this.clients.other)));
    const short = await this.kc.token(this.users[0] as string, this.clients.shortLived);
    this.liveKids = new Set(certs.keys.filter((k) => k.use !== 'enc').map((k) => k.kid));
    this.valid = valid;
    this.wrongAudience = wrongAudience;
    const exp = decodeJwt(short).exp ?? 0;
    this.expiring.push({ token: short, kid: decodeProtectedHeader(short).kid ?? '', usableAt: exp * 1000 + EXPIRED_AFTER_MS });
    // Expired tokens of a removed key would test the refetch on unknown kid, not expiry: drop them.
    this.expiring = this.expiring.filter((e) => this.liveKids.has(e.kid)).slice(-5);
    this.garbage = garbageFrom(valid[0] as string);
    this.forged = [await this.forge(valid[0] as string)];
    this.refreshes++;
  }

  /** A token of this kind for request `n`, or undefined (no header; or for `expired`, none old enough yet). */
  token(credential: Credential, n: number): string | undefined {
    const pick = (list: readonly string[]) => list[n % list.length];
    switch (credential) {
      case 'valid':
        return pick(this.valid);
      case 'none':
        return undefined;
      case 'expired': {
        const now = Date.now();
        const usable = this.expiring.filter((e) => e.usableAt <= now);
        return usable[usable.length - 1]?.token;
      }
      case 'wrong-audience':
        return pick(this.wrongAudience);
      case 'garbage':
        return pick(this.garbage);
      case 'forged':
        return pick(this.forged);
    }
  }

  /** A token with a valid one's kid, issuer, audience and subject, signed by a key of ours. */
  private async forge(valid: string): Promise<string> {
    const { kid } = decodeProtectedHeader(valid);
    const claims = decodeJwt(valid);
    return new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid !== undefined ? { kid } : {}) })
      .sign(this.forgeKey);
  }
}

/** Malformed and tampered credentials: not a JWT, two segments, alg none, a flipped signature byte. */
function garbageFrom(valid: string): string[] {
  const [h, p, sig] = valid.split('.') as [string, string, string];
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
  const mid = Math.floor(sig.length / 2);
  const flipped = `${h}.${p}.${sig.slice(0, mid)}${sig[mid] === 'A' ? 'B' : 'A'}${sig.slice(mid + 1)}`;
  return ['garbage', `${h}.${p}`, none, flipped];
}
