const SHOWN = '[redacted]';
/** `util.inspect.custom`, by its registered name: api/ stays free of Node imports. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A secret held in memory (a raw token, private key material): it prints as `[redacted]` through
 * `JSON.stringify`, template strings, `util.inspect` and pino, and has no enumerable property;
 * `reveal()` is the one way in, so every place that needs the secret says so in the code.
 */
export class Redacted<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toJSON(): string {
    return SHOWN;
  }
  toString(): string {
    return SHOWN;
  }
  [INSPECT](): string {
    return SHOWN;
  }
}
