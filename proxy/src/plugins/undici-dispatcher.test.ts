import * as undici from 'undici';
import { describe, expect, it } from 'vitest';
import { Agent, buildConnector } from './undici-dispatcher.js';

describe('undici-dispatcher', () => {
  it("loads the very Agent and buildConnector undici's index exports (a release that moves them fails here)", () => {
    expect(Agent).toBe(undici.Agent);
    expect(buildConnector).toBe(undici.buildConnector);
  });
});
