import type { CelResult, CompiledTransform } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { applyConfig } from '../config/apply.js';
import { ConfigStore } from '../config/store.js';
import { compileTransformation, headerValueOf } from './transformation-stage.js';

const t = (x: Partial<CompiledTransform>): CompiledTransform => ({ metadata: [], add: [], set: [], remove: [], ...x });
const ok = (value: unknown): CelResult => ({ ok: true, value: value as never });

describe('transformation: compile', () => {
  it('compiles each expression once; one that does not compile is kept (it always fails) with a warning', () => {
    const c = compileTransformation({
      policy: 'ns/t',
      entries: [
        {
          request: t({
            set: [
              { name: 'x-a', value: '{{ bad }}' },
              { name: 'x-b', value: "'ok'" },
            ],
          }),
        },
      ],
    });
    expect(c.entries[0]?.request?.set.map((o) => o.name)).toEqual(['x-a', 'x-b']);
    expect(c.warnings).toEqual([expect.stringMatching(/^transformation request set "x-a" always fails: /)]);
  });

  it('maps pseudo-headers per phase and leaves out what a phase cannot write, with a warning', () => {
    const c = compileTransformation({
      policy: 'ns/t',
      entries: [
        {
          request: t({
            set: [
              { name: 'host', value: "'a'" },
              { name: ':authority', value: "'a'" },
              { name: ':path', value: "'/'" },
              { name: ':method', value: "'GET'" },
              { name: ':scheme', value: "'https'" },
              { name: ':status', value: "'200'" },
              { name: 'content-length', value: "'1'" },
            ],
            remove: ['connection', 'x-ok', ':path'],
          }),
          response: t({
            set: [
              { name: ':status', value: "'404'" },
              { name: ':path', value: "'/'" },
              { name: 'host', value: "'h'" },
            ],
          }),
        },
      ],
    });
    const e = c.entries[0];
    expect(e?.request?.set.map((o) => [o.name, o.target])).toEqual([
      ['host', 'authority'],
      [':authority', 'authority'],
      [':path', 'path'],
      [':method', 'method'],
    ]);
    expect(e?.request?.remove).toEqual(['x-ok']);
    expect(e?.response?.set.map((o) => [o.name, o.target])).toEqual([
      [':status', 'status'],
      ['host', 'header'],
    ]);
    expect(c.warnings).toHaveLength(6);
  });

  it('records which bodies must be buffered', () => {
    const plain = compileTransformation({ policy: 'p', entries: [{ request: t({ set: [{ name: 'x', value: 'request.path' }] }) }] });
    expect([plain.needsRequestBody, plain.hasResponse, plain.needsResponseBody]).toEqual([false, false, false]);
    const bodies = compileTransformation({
      policy: 'p',
      entries: [
        { condition: 'json(request.body).a == 1', request: t({ set: [{ name: 'x', value: "'1'" }] }) },
        { response: t({ set: [{ name: 'x', value: 'string(response.body)' }] }) },
      ],
    });
    expect([bodies.needsRequestBody, bodies.hasResponse, bodies.needsResponseBody]).toEqual([true, true, true]);
  });
});

describe('transformation: header values', () => {
  it('a string, or bytes read as Latin-1; anything else, an error, or a control character is no value', () => {
    expect(headerValueOf(ok('v'))).toBe('v');
    expect(headerValueOf(ok(new Uint8Array([0x61, 0xe9])))).toBe('a\u00e9');
    expect(headerValueOf(ok(1n))).toBeUndefined();
    expect(headerValueOf(ok(true))).toBeUndefined();
    expect(headerValueOf(ok(['a']))).toBeUndefined();
    expect(headerValueOf(ok(null))).toBeUndefined();
    expect(headerValueOf(ok('a\r\nx-injected: 1'))).toBeUndefined();
    expect(headerValueOf(ok('\u20ac'))).toBeUndefined();
    expect(headerValueOf({ ok: false, error: 'e', code: 'no_such_key' })).toBeUndefined();
  });
});

describe('compiled policies are reused across configs while unchanged', () => {
  it('authorization and transformation keep their compiled form; a changed one is compiled again', async () => {
    const store = new ConfigStore();
    const cfg = (expr: string) => ({
      schemaVersion: 5,
      version: expr,
      gateway: { namespace: 'd', name: 'g' },
      listeners: [{ name: 'http', port: 80 }],
      routes: [],
      policies: {
        authorization: { a: { policy: 'd/a', rules: [{ action: 'Allow', expression: 'true' }] } },
        transformation: { t: { policy: 'd/t', entries: [{ request: t({ set: [{ name: 'x', value: expr }] }) }] } },
      },
    });
    expect(await applyConfig(store, cfg("'1'"))).toBeUndefined();
    const [a1, t1] = [store.current?.authorization.get('a'), store.current?.transformations.get('t')];
    expect(await applyConfig(store, cfg("'1' "))).toBeUndefined();
    expect(store.current?.authorization.get('a')).toBe(a1);
    expect(store.current?.transformations.get('t')).not.toBe(t1);
    const t2 = store.current?.transformations.get('t');
    expect(await applyConfig(store, { ...cfg("'1' "), version: 'again' })).toBeUndefined();
    expect(store.current?.transformations.get('t')).toBe(t2);
  });

  it('a policy that does not parse is left out with a warning', async () => {
    const store = new ConfigStore();
    expect(
      await applyConfig(store, {
        schemaVersion: 5,
        version: 'v',
        gateway: { namespace: 'd', name: 'g' },
        listeners: [{ name: 'http', port: 80, preRouting: { transformation: 'bad' } }],
        routes: [],
        policies: { transformation: { bad: { policy: 'd/bad' } }, backendAuth: { b: { policy: 'd/b', passthrough: false } } },
      }),
    ).toBeUndefined();
    expect(store.current?.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^transformation policy bad left out \(its routes answer 500\): entries: /),
        expect.stringMatching(/^backendAuth policy b left out/),
        'listener http answers 500: transformation policy bad is not available',
      ]),
    );
  });
});
