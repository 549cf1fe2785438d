import type * as IpAddr from 'ipaddr.js';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

// ipaddr.js is CommonJS with an ambient `export =` typing, which this repo's compiler options
// (no allowSyntheticDefaultImports) cannot default-import: require it, typed by its own .d.ts.
const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof IpAddr;
type IPv4 = IpAddr.IPv4;
type IPv6 = IpAddr.IPv6;

const METADATA = 'link-local or metadata service';
// 0.0.0.0/8 and :: dial the local host itself (Linux treats them as "this host"): a spelling of
// loopback that no IdP URL needs and that slips past name-based checks, so it is refused.
// Explicit loopback (127/8, ::1) stays allowed.
const UNSPECIFIED = 'unspecified address';
// TCP cannot connect to these; refused so no odd kernel or proxy behaviour is ever reached.
const MULTICAST = 'multicast or broadcast';

const v4 = (cidr: string) => ipaddr.IPv4.parseCIDR(cidr);
const v6 = (cidr: string) => ipaddr.IPv6.parseCIDR(cidr);

/**
 * Ranges never dialed (upstream's ssrf/dial.go, plus the unspecified, multicast and broadcast
 * addresses), with the reason the refusal names. Loopback and private ranges (10/8, 172.16/12,
 * 192.168/16, fc00::/7 outside fd00:ec2::/32) stay allowed: in-cluster IdPs and tests live there.
 */
const BLOCKED_V4: readonly (readonly [[IPv4, number], string])[] = [
  [v4('169.254.0.0/16'), METADATA],
  [v4('100.100.100.200/32'), METADATA], // Alibaba Cloud
  [v4('0.0.0.0/8'), UNSPECIFIED],
  [v4('224.0.0.0/4'), MULTICAST],
  [v4('255.255.255.255/32'), MULTICAST],
];
const BLOCKED_V6: readonly (readonly [[IPv6, number], string])[] = [
  [v6('fe80::/10'), METADATA],
  [v6('fd00:ec2::/32'), METADATA], // AWS (fd00:ec2::254)
  [v6('::/128'), UNSPECIFIED],
  [v6('ff00::/8'), MULTICAST],
];

/** IPv6 prefixes whose packets are delivered to an IPv4 address carried in the IPv6 one. */
const LOW_32_BITS = [
  v6('::ffff:0:0/96'), // IPv4-mapped
  v6('::/96'), // IPv4-compatible (deprecated; :: and ::1 are decided before)
  v6('::ffff:0:0:0/96'), // IPv4-translated (RFC 6145)
  v6('64:ff9b::/96'), // NAT64 well-known prefix (RFC 6052)
];
const NAT64_LOCAL = v6('64:ff9b:1::/48'); // RFC 8215: the operator picks the prefix length
const SIX_TO_FOUR = v6('2002::/16');
const TEREDO = v6('2001::/32');

/** Every IPv4 address an IPv6 address may reach through a transition mechanism. */
function embeddedIPv4(a: IPv6): IPv4[] {
  const b = a.toByteArray();
  const at = (bytes: number[]) => new ipaddr.IPv4(bytes);
  const out: IPv4[] = [];
  if (LOW_32_BITS.some((r) => a.match(r))) out.push(at(b.slice(12)));
  if (a.match(NAT64_LOCAL)) {
    // RFC 6052 §2.2: the IPv4 follows the prefix (/48, /56, /64 or /96) and skips bits 64-71.
    const noU = [...b.slice(0, 8), ...b.slice(9)];
    out.push(at(noU.slice(6, 10)), at(noU.slice(7, 11)), at(noU.slice(8, 12)), at(b.slice(12)));
  }
  if (a.match(SIX_TO_FOUR)) out.push(at(b.slice(2, 6)));
  // Teredo: the relay delivers to the client's IPv4 (last 32 bits, XOR'd); the server's IPv4
  // (bits 32-63) is checked too, as no legitimate Teredo server sits in a blocked range.
  if (a.match(TEREDO)) out.push(at(b.slice(12).map((x: number) => x ^ 0xff)), at(b.slice(4, 8)));
  return out;
}

function reasonV4(a: IPv4): string | undefined {
  return BLOCKED_V4.find(([range]) => a.match(range))?.[1];
}

/** Why `ip` is refused, and the IPv4 address that decided it when embedded in an IPv6 one. */
function decide(ip: IPv4 | IPv6): { reason: string; ipv4?: IPv4 } | undefined {
  if (ip instanceof ipaddr.IPv4) {
    const reason = reasonV4(ip);
    return reason === undefined ? undefined : { reason };
  }
  if (ip.range() === 'loopback') return undefined; // ::1 (else ::/96 would read it as 0.0.0.1)
  const own = BLOCKED_V6.find(([range]) => ip.match(range))?.[1];
  if (own !== undefined) return { reason: own };
  for (const ipv4 of embeddedIPv4(ip)) {
    const reason = reasonV4(ipv4);
    if (reason !== undefined) return { reason, ipv4 };
  }
  return undefined;
}

/**
 * Where the check runs. `resolved`: an address the lookup hook got from DNS; a string that is
 * not an IP is refused (fail closed). `literal`: the host before DNS; a string that is not an IP
 * is a hostname, allowed here because every address it resolves to is checked by the lookup hook.
 */
export type AddressSource = 'resolved' | 'literal';

/**
 * The refusal message for connecting to `address`, or undefined when the fetch may connect.
 * Names the address as given and, when it differs, the IPv4 address decided on.
 */
export function addressRefusal(address: string, source: AddressSource): string | undefined {
  // ipaddr.js reads IPv4 the way inet_aton (and so getaddrinfo) does: `2852039166`,
  // `0xa9fea9fe`, `0251.0376.0251.0376`, `169.254.43518`; and IPv6 zone ids (`fe80::1%eth0`).
  // A literal may come bracketed, or with a trailing dot: read as the IP, to err on refusing.
  const text = source === 'literal' ? address.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '') : address;
  let ip: IPv4 | IPv6;
  try {
    ip = ipaddr.parse(text);
  } catch {
    // Node dials an `isIP` host without calling lookup: one we cannot read is refused.
    if (source === 'literal' && isIP(address) === 0) return undefined;
    return `address ${address} is blocked (not an IP address)`;
  }
  const verdict = decide(ip);
  if (verdict === undefined) return undefined;
  const ipv4 = (verdict.ipv4 ?? (ip instanceof ipaddr.IPv4 ? ip : undefined))?.toString();
  const shown = ipv4 !== undefined && ipv4 !== address ? `${address} (${ipv4})` : address;
  return `address ${shown} is blocked (${verdict.reason})`;
}

/** True when a fetch must not connect to `address` (see `addressRefusal`). */
export function isBlockedAddress(address: string, source: AddressSource = 'resolved'): boolean {
  return addressRefusal(address, source) !== undefined;
}
