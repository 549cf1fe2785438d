import { inspect } from 'node:util';

const SHOWN = '[redacted]';

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
  [inspect.custom](): string {
    return SHOWN;
  }
}
