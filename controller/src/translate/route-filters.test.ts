import { HttpRoute } from '@agw/api';
import { describe, expect, it } from 'vitest';
import { compileRuleFilters, routeFilterProblems } from './route-filters.js';

/** One HTTPRoute with one rule (PathPrefix /p unless `matches` says otherwise), parsed as the controller parses it. */
const routeWith = (rule: Record<string, unknown>) =>
  HttpRoute.parse({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'default' },
    spec: {
      parentRefs: [{ name: 'gw' }],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/p' } }], ...rule }],
    },
  });
const svc = [{ name: 'svc', port: 80 }];
const problemsOf = (rule: Record<string, unknown>) => routeFilterProblems(routeWith(rule)).map((p) => p.message);

describe('routeFilterProblems: what leaves a rule out (Accepted=False UnsupportedValue)', () => {
  it.each([
    [
      'RequestMirror',
      { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', port: 80 } } }], backendRefs: svc },
      'rule 0: filter 0 (RequestMirror) is not supported',
    ],
    ['CORS', { filters: [{ type: 'CORS', cors: { allowOrigins: ['*'] } }], backendRefs: svc }, 'filter 0 (CORS) is not supported'],
    [
      'ExtensionRef',
      { filters: [{ type: 'ExtensionRef', extensionRef: { group: 'x', kind: 'F', name: 'f' } }], backendRefs: svc },
      'filter 0 (ExtensionRef) is not supported',
    ],
    ['an unknown type', { filters: [{ type: 'Teleport' }], backendRefs: svc }, 'filter 0 (Teleport) is not supported'],
    [
      'a backendRef filter',
      {
        backendRefs: [
          {
            name: 'svc',
            port: 80,
            filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: 'b' }] } }],
          },
        ],
      },
      'backendRef svc filter 0 (RequestHeaderModifier) is not supported: filters on a backendRef are not served',
    ],
    [
      'a missing field',
      { filters: [{ type: 'URLRewrite' }], backendRefs: svc },
      'filter.urlRewrite must be specified for URLRewrite filter.type',
    ],
    [
      'a field of another type',
      { filters: [{ type: 'URLRewrite', urlRewrite: {}, requestRedirect: {} }], backendRefs: svc },
      'filter.requestRedirect must be nil if the filter.type is not RequestRedirect',
    ],
    [
      'a repeated filter',
      {
        filters: [
          { type: 'URLRewrite', urlRewrite: {} },
          { type: 'URLRewrite', urlRewrite: {} },
        ],
        backendRefs: svc,
      },
      'URLRewrite filter cannot be repeated',
    ],
    [
      'a redirect with a rewrite',
      {
        filters: [
          { type: 'URLRewrite', urlRewrite: {} },
          { type: 'RequestRedirect', requestRedirect: {} },
        ],
      },
      'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
    ],
    [
      'a redirect with backendRefs',
      { filters: [{ type: 'RequestRedirect', requestRedirect: {} }], backendRefs: svc },
      'RequestRedirect filter must not be used together with backendRefs',
    ],
    ['statusCode 304', { filters: [{ type: 'RequestRedirect', requestRedirect: { statusCode: 304 } }] }, 'statusCode 304 is not supported'],
    [
      'scheme ftp',
      { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'ftp' } }] },
      'scheme "ftp" is not supported (http, https)',
    ],
    ['port 0', { filters: [{ type: 'RequestRedirect', requestRedirect: { port: 0 } }] }, 'port 0 is not in 1-65535'],
    [
      'an upper-case hostname',
      { filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'Foo.example' } }], backendRefs: svc },
      'hostname "Foo.example" is not a valid precise hostname',
    ],
    [
      'a path type without its value',
      { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replaceFullPath: '/x' } } }], backendRefs: svc },
      "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'",
    ],
    [
      'an unknown path type',
      { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'Regex' } } }], backendRefs: svc },
      'path type "Regex" is not supported',
    ],
    [
      'a full path that is not a path',
      { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: 'x y' } } }], backendRefs: svc },
      'ReplaceFullPath "x y" is not an absolute path',
    ],
    [
      'ReplacePrefixMatch on an Exact match',
      {
        matches: [{ path: { type: 'Exact', value: '/p' } }],
        filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/x' } } }],
        backendRefs: svc,
      },
      'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
    ],
    [
      'ReplacePrefixMatch with two matches',
      {
        matches: [{ path: { type: 'PathPrefix', value: '/a' } }, { path: { type: 'PathPrefix', value: '/b' } }],
        filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/x' } } }],
      },
      'When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
    ],
    [
      'a header name twice (case-insensitive)',
      {
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }], remove: ['x-a'] } }],
        backendRefs: svc,
      },
      'header "x-a" appears more than once: one action per header name',
    ],
    [
      'a header value with a line break',
      {
        filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-a', value: 'a\r\nb' }] } }],
        backendRefs: svc,
      },
      'value must be 1-4096 characters a header can carry',
    ],
    [
      'an invalid header name',
      { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x a', value: '1' }] } }], backendRefs: svc },
      'add header name "x a" is not a valid HTTP header name',
    ],
    [
      'Host in a request header filter',
      { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'Host', value: 'h' }] } }], backendRefs: svc },
      'set header "Host" cannot be modified by a filter (use URLRewrite hostname)',
    ],
    [
      'Content-Length in a response header filter',
      { filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['Content-Length'] } }], backendRefs: svc },
      'remove header "Content-Length" cannot be modified by a filter',
    ],
  ])('%s', (_what, rule, message) => {
    const problems = problemsOf(rule);
    expect(problems.some((p) => p.includes(message))).toBe(true);
  });

  it('names the rule by index and name, and the filter by index and type', () => {
    const route = routeWith({ name: 'mirror', filters: [{ type: 'RequestMirror', requestMirror: {} }], backendRefs: svc });
    expect(routeFilterProblems(route)).toEqual([
      {
        ruleIndex: 0,
        path: ['spec', 'rules', 0, 'filters', 0, 'type'],
        message:
          'rule 0 (mirror): filter 0 (RequestMirror) is not supported (served: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite)',
      },
    ]);
  });

  it.each([
    [
      'header modifiers',
      {
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: '1' }] } },
          { type: 'ResponseHeaderModifier', responseHeaderModifier: { remove: ['server'] } },
        ],
        backendRefs: svc,
      },
    ],
    [
      'an empty prefix replacement',
      { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '' } } }], backendRefs: svc },
    ],
    [
      'a redirect without backendRefs',
      { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', port: 8443, statusCode: 308 } }] },
    ],
    ['no filter', { backendRefs: svc }],
  ])('accepts %s', (_what, rule) => {
    expect(problemsOf(rule)).toEqual([]);
  });
});

describe('compileRuleFilters: the proxy form, in the order listed', () => {
  it('lower-cases header names, defaults the redirect to 302, keeps the order', () => {
    const route = routeWith({
      filters: [
        { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-Resp', value: 'v' }] } },
        {
          type: 'RequestHeaderModifier',
          requestHeaderModifier: { set: [{ name: 'X-Set', value: 'One' }], add: [{ name: 'X-Add', value: 'two' }], remove: ['X-Gone'] },
        },
        {
          type: 'RequestRedirect',
          requestRedirect: { hostname: 'example.com', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/n' } },
        },
      ],
    });
    expect(compileRuleFilters(route.spec.rules[0] as never)).toEqual([
      { type: 'ResponseHeaderModifier', headers: { add: [{ name: 'x-resp', value: 'v' }], set: [], remove: [] } },
      {
        type: 'RequestHeaderModifier',
        headers: { add: [{ name: 'x-add', value: 'two' }], set: [{ name: 'x-set', value: 'One' }], remove: ['x-gone'] },
      },
      { type: 'RequestRedirect', hostname: 'example.com', path: { type: 'ReplacePrefixMatch', value: '/n' }, statusCode: 302 },
    ]);
  });

  it('URLRewrite: hostname and full path', () => {
    const route = routeWith({
      filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'up.example', path: { type: 'ReplaceFullPath', replaceFullPath: '/x' } } }],
      backendRefs: svc,
    });
    expect(compileRuleFilters(route.spec.rules[0] as never)).toEqual([
      { type: 'URLRewrite', hostname: 'up.example', path: { type: 'ReplaceFullPath', value: '/x' } },
    ]);
  });
});
