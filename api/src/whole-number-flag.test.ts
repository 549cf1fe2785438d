import { describe, expect, it } from 'vitest';
import { PORT, readWholeNumberFlag, TIMER_MS } from './whole-number-flag.js';

describe('readWholeNumberFlag', () => {
  it('absent: the default; a whole number in range: that number', () => {
    expect(readWholeNumberFlag('drain-ms', undefined, 5000, TIMER_MS)).toBe(5000);
    expect(readWholeNumberFlag('drain-ms', '0', 5000, TIMER_MS)).toBe(0);
    expect(readWholeNumberFlag('drain-ms', '2147483647', 5000, TIMER_MS)).toBe(2 ** 31 - 1);
    expect(readWholeNumberFlag('admin-port', '65535', 15000, PORT)).toBe(65535);
  });
  it.each(['', ' ', 'abc', '-1', '1.5', '1e3', '0x10', 'NaN', 'Infinity', '2147483648', '99999999999999999999'])(
    'refuses %j with the flag, the range and the value',
    (raw) => {
      expect(() => readWholeNumberFlag('drain-ms', raw, 5000, TIMER_MS)).toThrow(
        `--drain-ms takes a whole number (ms) from 0 to 2147483647, not ${JSON.stringify(raw)}`,
      );
    },
  );
  it('a port above 65535 is refused', () => {
    expect(() => readWholeNumberFlag('admin-port', '65536', 15000, PORT)).toThrow(
      /^--admin-port takes a whole number \(a port number\) from 0 to 65535/,
    );
  });
});
