/**
 * Sets `key` as an own, enumerable data property of `target`. Plain assignment would reach
 * Object.prototype for some keys (`__proto__` replaces the prototype): keys that come from
 * requests, claims, JSON bodies and manifests are set through here.
 */
export function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
