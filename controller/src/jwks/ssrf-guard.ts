import { isIP } from 'node:net';

/**
 * Addresses a JWKS fetch never connects to (upstream's ssrf/dial.go): link-local (169.254/16,
 * fe80::/10, which holds cloud metadata services), Alibaba's 100.100.100.200 and AWS's
 * fd00:ec2::/32. Loopback and private ranges stay allowed (in-cluster IdPs live there).
 */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith('169.254.') || address === '100.100.100.200';
  if (family === 6) {
    const a = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) return isBlockedAddress(mapped[1] as string);
    return /^fe[89ab][0-9a-f]:/.test(a) || a.startsWith('fd00:ec2:');
  }
  return false;
}
