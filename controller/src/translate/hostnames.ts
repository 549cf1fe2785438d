/**
 * Gateway API hostname intersection of a listener and a route. Listener unset: the route's
 * hostnames; route empty: the listener's; both set: each route hostname that the listener
 * hostname covers, or the listener hostname where a route wildcard covers it. Empty: no match.
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | 'none' {
  if (listener === undefined || listener === '') return [...route];
  if (route.length === 0) return [listener];
  const out = new Set<string>();
  for (const h of route) {
    if (covers(listener, h)) out.add(h);
    else if (covers(h, listener)) out.add(listener);
  }
  return out.size === 0 ? 'none' : [...out];
}

/** True when pattern `a` (maybe `*.x`) matches every name of `b` (or b itself for exact). */
function covers(a: string, b: string): boolean {
  const la = a.toLowerCase(),
    lb = b.toLowerCase();
  if (la === lb) return true;
  if (!la.startsWith('*.')) return false;
  const suffix = la.slice(1);
  return lb.startsWith('*.') ? lb.endsWith(suffix) && lb.length > suffix.length + 1 : lb.endsWith(suffix) && lb.length > suffix.length;
}
