/**
 * `--port-map` values `<listener port>=<local port>` (e.g. `80=8080`): which local port serves a
 * Gateway listener port. Throws with the offending value when one is malformed.
 */
export function parsePortMap(values: readonly string[]): Map<number, number> {
  const map = new Map<number, number>();
  for (const v of values) {
    const m = /^(\d+)=(\d+)$/.exec(v);
    if (!m) throw new Error(`--port-map ${v}: expected <listener port>=<local port>, e.g. 80=8080`);
    map.set(Number(m[1]), Number(m[2]));
  }
  return map;
}
