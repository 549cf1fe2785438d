/** Lower-cased host without port or trailing dot; IPv6 literals keep their brackets. */
export function normalizeHost(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/**
 * Gateway API hostname match: exact, or `*.example.com` matching one or more labels before
 * `.example.com` (not `example.com` itself). An undefined pattern matches any host.
 */
export function hostnameMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined || pattern === '') return true;
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
  return p === host;
}

/** Specificity of a hostname pattern: exact > longer wildcard > shorter wildcard > any. */
export function hostnameRank(pattern: string | undefined): number {
  if (pattern === undefined || pattern === '') return 0;
  return pattern.startsWith('*.') ? 1 + pattern.length : 100_000 + pattern.length;
}
