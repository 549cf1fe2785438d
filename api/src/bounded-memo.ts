/**
 * Memoizes a pure function of a string, so that a reconcile or a config swap does not redo work
 * for unchanged input (a regex compiled, a key set parsed). Bounded: emptied when it reaches
 * `maxEntries`, so a churn of distinct inputs costs at most one recomputation per fill. Results are
 * shared: callers never mutate them.
 */
export function boundedMemo<V>(fn: (key: string) => V, maxEntries: number): (key: string) => V {
  const memo = new Map<string, V>();
  return (key) => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    const value = fn(key);
    if (memo.size >= maxEntries) memo.clear();
    memo.set(key, value);
    return value;
  };
}
