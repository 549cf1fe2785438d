/**
 * IP addresses and CIDR prefixes for CEL's Kubernetes-style `ip()`/`cidr()` libraries, as
 * upstream implements them (Rust `std::net::IpAddr` and `ipnet::IpNet` parsing):
 * - IPv4 is strict dotted-quad: four decimal octets 0-255, no leading zeros (`01.2.3.4` is
 *   refused), no shorthand (`10.1`).
 * - IPv6 is RFC 4291 text (hex groups of 1-4 digits, one `::`, an optional dotted-quad tail),
 *   without zone (`%eth0`) or brackets; it prints in RFC 5952 form (lower case, longest zero run
 *   compressed, IPv4-mapped as `::ffff:a.b.c.d`).
 * - A CIDR keeps the address as written (`cidr('127.0.7.1/8')` prints `127.0.7.1/8`; `.masked()`
 *   clears the host bits); the prefix length is required and at most 32/128.
 * - Families never mix: an IPv4 prefix does not contain `::ffff:10.0.0.1` (the proxy passes the
 *   client address unmapped: see `celSourceAddress` in activation.ts).
 *
 * Pure code, written out (rather than the `ipaddr.js` package) because it is ~150 lines and must
 * match Rust's acceptance rules exactly, which ipaddr.js does not (it accepts `10.1` and octal).
 */

export type IpFamily = 4 | 6;

/** An IP address value in CEL (`ip('10.0.0.1')`). Immutable. */
export class CelIp {
  constructor(
    /** 4 or 6. */
    readonly family: IpFamily,
    /** The address as an unsigned integer (32 or 128 bits). */
    readonly value: bigint,
  ) {}

  toString(): string {
    return this.family === 4 ? formatV4(this.value) : formatV6(this.value);
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: CelIp): boolean {
    return this.family === other.family && this.value === other.value;
  }

  isUnspecified(): boolean {
    return this.value === 0n;
  }

  isLoopback(): boolean {
    return this.family === 4 ? this.value >> 24n === 127n : this.value === 1n;
  }

  /** IPv4 224.0.0.0/24; IPv6 ff02::/16 (link-local scope multicast, any flags). */
  isLinkLocalMulticast(): boolean {
    if (this.family === 4) return this.value >> 8n === 0xe00000n;
    return (Number(this.value >> 112n) & 0xff0f) === 0xff02;
  }

  /** IPv4 169.254.0.0/16; IPv6 fe80::/10. */
  isLinkLocalUnicast(): boolean {
    if (this.family === 4) return this.value >> 16n === 0xa9fen;
    return (Number(this.value >> 112n) & 0xffc0) === 0xfe80;
  }

  /**
   * Upstream's definition: IPv4 neither loopback, link-local, broadcast, multicast nor
   * unspecified (private ranges count as global, as in Go); IPv6 neither loopback, unspecified,
   * multicast (ff00::/8), unique-local (fc00::/7) nor link-local (fe80::/10).
   */
  isGlobalUnicast(): boolean {
    if (this.family === 4) {
      const v = this.value;
      return !(this.isLoopback() || this.isLinkLocalUnicast() || v === 0xffffffffn || v >> 28n === 0xen || v === 0n);
    }
    const top = Number(this.value >> 112n);
    return !(this.isLoopback() || this.isUnspecified() || top >> 8 === 0xff || (top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfe80);
  }
}

/** A CIDR prefix value in CEL (`cidr('10.0.0.0/8')`). Immutable. */
export class CelCidr {
  constructor(
    /** The address as written (host bits kept). */
    readonly address: CelIp,
    readonly prefixLength: number,
  ) {}

  private get bits(): bigint {
    return this.address.family === 4 ? 32n : 128n;
  }

  private get mask(): bigint {
    const hostBits = this.bits - BigInt(this.prefixLength);
    return ((1n << this.bits) - 1n) ^ ((1n << hostBits) - 1n);
  }

  /** The network address (host bits cleared). */
  network(): CelIp {
    return new CelIp(this.address.family, this.address.value & this.mask);
  }

  masked(): CelCidr {
    return new CelCidr(this.network(), this.prefixLength);
  }

  containsIp(ip: CelIp): boolean {
    return ip.family === this.address.family && (ip.value & this.mask) === (this.address.value & this.mask);
  }

  containsCidr(other: CelCidr): boolean {
    return other.address.family === this.address.family && other.prefixLength >= this.prefixLength && this.containsIp(other.address);
  }

  toString(): string {
    return `${this.address.toString()}/${this.prefixLength}`;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: CelCidr): boolean {
    return this.prefixLength === other.prefixLength && this.address.equals(other.address);
  }
}

/** Parses an IPv4 or IPv6 address; `undefined` if it is not one. */
export function parseIp(text: string): CelIp | undefined {
  if (text.includes(':')) {
    const v = parseV6(text);
    return v === undefined ? undefined : new CelIp(6, v);
  }
  const v = parseV4(text);
  return v === undefined ? undefined : new CelIp(4, v);
}

/** Parses `address/prefixLength`; `undefined` if it is not a valid prefix. */
export function parseCidr(text: string): CelCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
  const n = Number(len);
  if (n > (ip.family === 4 ? 32 : 128)) return undefined;
  return new CelCidr(ip, n);
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return BigInt(v);
}

function parseV6(text: string): bigint | undefined {
  if (text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups: number[] = [];
  // An embedded IPv4 tail counts as two groups and may only be the very last part.
  let v4Tail: bigint | undefined;
  const lastPart = halves.length === 2 ? tail : head;
  const last = lastPart[lastPart.length - 1];
  if (last !== undefined && last.includes('.')) {
    v4Tail = parseV4(last);
    if (v4Tail === undefined) return undefined;
    lastPart.pop();
  }
  for (const g of [...head, ...tail]) if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
  const explicit = head.length + tail.length + (v4Tail === undefined ? 0 : 2);
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
  } else if (explicit !== 8) {
    return undefined;
  }
  for (const g of head) groups.push(parseInt(g, 16));
  for (let i = 0; i < 8 - explicit; i++) groups.push(0);
  for (const g of tail) groups.push(parseInt(g, 16));
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (v4Tail !== undefined) v = (v << 32n) | v4Tail;
  return v;
}

function formatV4(v: bigint): string {
  const n = Number(v);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function formatV6(v: bigint): string {
  if (v >> 32n === 0xffffn) return `::ffff:${formatV4(v & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups (the first on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
