import { cond, type PendingCondition } from '../translate/model.js';

/** What the proxies of one Gateway did with its current config (the config server's view, or local mode's one in-process proxy). */
export interface GatewayProgramming {
  readonly proxies: number;
  /** Current version, when known. */
  readonly version?: string;
  readonly acked: number;
  /** NACK reasons of the current version, by proxy id. */
  readonly nacks: ReadonlyArray<{ proxy: string; reason: string }>;
  /** What proxies that applied the current version left out of it (routes or policies they could not compile), by proxy id. */
  readonly warnings: ReadonlyArray<{ proxy: string; warning: string }>;
  /** Listeners of the config not sent to the proxies, and why (HTTPS over a plaintext config stream). */
  readonly withheld?: ReadonlyArray<{ listener: string; message: string }>;
}

/**
 * Programmed (beyond upstream): every connected proxy of the Gateway applied its current config.
 * One wording for the cluster and local mode.
 */
export function programmedCondition(gateway: string, p: GatewayProgramming, generation: number | undefined): PendingCondition {
  return (
    notServed(gateway, p, generation) ??
    (p.acked < p.proxies
      ? cond('Programmed', false, 'Pending', `${p.acked} of ${p.proxies} proxies applied config ${p.version ?? ''}`, generation)
      : applied(`config ${p.version ?? ''} `, p, generation))
  );
}

/**
 * Programmed of a policy on a Gateway ancestor (beyond upstream): the Gateway's proxies serve this
 * generation of the policy. Unlike the Gateway's own, the message names no config version: any
 * route's change makes a new version of its Gateway's config, and a version in every policy's
 * status made each one a status write (two, with Pending between) on every such change. While a
 * new config is not yet applied by every proxy, a policy already Programmed at this generation
 * stays so (its proxies serve it, from the config they have, and the new one carries it too);
 * a policy of a new generation is Pending until they apply it. `previous`: the policy's
 * Programmed on that ancestor as it is now in its status (only its status and generation are
 * read: the message is always ours, never one someone else wrote there).
 */
export function policyProgrammedCondition(
  gateway: string,
  p: GatewayProgramming,
  generation: number | undefined,
  previous: { status: string; observedGeneration?: number } | undefined,
): PendingCondition {
  const servedBefore = programmedAt(previous, generation);
  return (
    notServed(gateway, p, generation) ??
    (p.acked < p.proxies && !servedBefore
      ? cond('Programmed', false, 'Pending', `${p.acked} of ${p.proxies} proxies applied the Gateway's current config`, generation)
      : applied('', p, generation))
  );
}

/** Whether a policy's Programmed on an ancestor, as its status has it, is True at this generation (it stays so while a new config is applied). */
export function programmedAt(
  previous: { status: string; observedGeneration?: number } | undefined,
  generation: number | undefined,
): boolean {
  return previous?.status === 'True' && generation !== undefined && previous.observedGeneration === generation;
}

/**
 * Whether the Gateway's connected proxies are applying a new config: none refused it, not all have
 * applied it yet (Programmed would say Pending).
 */
export function applyingNewConfig(p: GatewayProgramming): p is GatewayProgramming & { readonly version: string } {
  return p.version !== undefined && p.proxies > 0 && p.nacks.length === 0 && p.acked < p.proxies;
}

/** False for the Gateway and its policies alike: a proxy refused the current config, or none is connected. */
function notServed(gateway: string, p: GatewayProgramming, generation: number | undefined): PendingCondition | undefined {
  if (p.nacks.length > 0)
    return cond('Programmed', false, 'Rejected', p.nacks.map((n) => `proxy ${n.proxy}: ${n.reason}`).join('; '), generation);
  if (p.proxies === 0) return cond('Programmed', false, 'Pending', `no proxy of Gateway ${gateway} is connected`, generation);
  return undefined;
}

/**
 * True: `<prefix>applied by <n> proxies`, what proxies left out (parts they could not compile: the
 * controller validates first, so this is rare) and the listeners not sent.
 */
function applied(prefix: string, p: GatewayProgramming, generation: number | undefined): PendingCondition {
  const by = `${prefix}applied by ${p.proxies} ${p.proxies === 1 ? 'proxy' : 'proxies'}`;
  const leftOut = [...new Set(p.warnings.map((w) => w.warning))];
  const notSent = (p.withheld ?? []).map((w) => `; ${w.message}`).join('');
  return cond(
    'Programmed',
    true,
    'Programmed',
    `${leftOut.length === 0 ? by : `${by}; left out: ${leftOut.join('; ')}`}${notSent}`,
    generation,
  );
}

/**
 * What of a Gateway's programming a policy's Programmed can show besides whether every proxy
 * applied the current config: when it changes, every policy on the Gateway is checked again.
 */
export function policyProgrammingSummary(p: GatewayProgramming): string {
  return JSON.stringify([p.proxies, p.nacks, p.warnings, p.withheld ?? []]);
}

/**
 * A listener's Programmed: its own when translate set one (a listener that cannot be served),
 * False Invalid when it was not sent to the proxies, else the Gateway's.
 */
export function listenerProgrammed(
  listener: { name: string; conditions: readonly PendingCondition[] },
  gatewayProgrammed: PendingCondition,
  withheld: GatewayProgramming['withheld'],
): PendingCondition[] {
  if (listener.conditions.some((c) => c.type === 'Programmed')) return [];
  const w = withheld?.find((x) => x.listener === listener.name);
  return [w === undefined ? gatewayProgrammed : cond('Programmed', false, 'Invalid', w.message, gatewayProgrammed.observedGeneration)];
}
