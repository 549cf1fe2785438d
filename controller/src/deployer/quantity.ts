/** Kubernetes resource.Quantity suffixes: binary (powers of 1024) and decimal SI (powers of 1000). */
const SUFFIX: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;

/**
 * A Kubernetes quantity (`100m`, `2`, `1.5`, `512Mi`, `1G`, `1e9`) in base units (cores, bytes);
 * undefined for anything else (a malformed value sizes nothing rather than something wrong).
 */
export function parseQuantity(value: string | number | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value === undefined) return undefined;
  const m = QUANTITY.exec(value.trim());
  if (m === null) return undefined;
  const n = Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2].slice(1)) : (SUFFIX[m[3] ?? ''] as number));
  return Number.isFinite(n) ? n : undefined;
}
