import { describe, expect, it } from 'vitest';
import { parseObjects } from '../resources/parse-objects.js';
import { referencedTlsSecrets } from '../resources/tls-secrets.js';
import { backendProtocolOf } from './backends.js';
import { translate } from './translate.js';

/**
 * The backend protocol of an HTTPRoute backendRef comes from the Service port's `appProtocol`
 * (Gateway API): `kubernetes.io/h2c` is written as `protocol: h2c`; anything else leaves the field
 * out (HTTP/1.1), so the configs of HTTP/1.1 backends are what they were before the field existed.
 */
const GW = 'gateway.networking.k8s.io';
const CONTROLLER = 'agentgateway.dev/agentgateway';

/** A Service `name` with one port 80 (`appProtocol` if given) and one ready endpoint on 8080. */
function service(name: string, appProtocol?: string): unknown[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'ns' },
      spec: { ports: [{ name: 'web', port: 80, targetPort: 8080, ...(appProtocol !== undefined ? { appProtocol } : {}) }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'web', port: 8080 }],
    },
  ];
}

function backendsOf(services: Array<[string, string | undefined]>): unknown[] {
  const input = [
    { apiVersion: `${GW}/v1`, kind: 'GatewayClass', metadata: { name: 'agentgateway' }, spec: { controllerName: CONTROLLER } },
    {
      apiVersion: `${GW}/v1`,
      kind: 'Gateway',
      metadata: { name: 'gw', namespace: 'ns' },
      spec: { gatewayClassName: 'agentgateway', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    },
    ...services.flatMap(([name, appProtocol]) => service(name, appProtocol)),
    {
      apiVersion: `${GW}/v1`,
      kind: 'HTTPRoute',
      metadata: { name: 'r', namespace: 'ns' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        rules: [{ backendRefs: services.map(([name]) => ({ name, port: 80 })) }],
      },
    },
  ];
  const parsed = parseObjects(input);
  expect(parsed.problems).toEqual([]);
  const out = translate({
    ...parsed,
    controllerName: CONTROLLER,
    jwks: new Map(),
    tlsSecrets: referencedTlsSecrets(parsed.gateways, parsed.secrets),
  });
  const routes = out.configs.get('ns/gw')?.routes ?? [];
  expect(routes).toHaveLength(1);
  return routes[0]?.backends ?? [];
}

describe('backend protocol from the Service port appProtocol', () => {
  it.each([
    ['kubernetes.io/h2c', 'h2c'],
    ['kubernetes.io/ws', 'http1'],
    ['http', 'http1'],
    [undefined, 'http1'],
    [null, 'http1'],
    ['grpc', 'http1'],
    ['kubernetes.io/H2C', 'http1'],
  ])('appProtocol %s → %s', (appProtocol, protocol) => {
    expect(backendProtocolOf(appProtocol)).toBe(protocol);
  });

  it('writes protocol h2c for a kubernetes.io/h2c port, nothing for the others (HTTP/1.1)', () => {
    expect(
      backendsOf([
        ['grpc', 'kubernetes.io/h2c'],
        ['ws', 'kubernetes.io/ws'],
        ['web', 'http'],
        ['plain', undefined],
      ]),
    ).toEqual([
      { name: 'ns/grpc:80', weight: 1, endpoints: [{ host: '10.0.0.1', port: 8080 }], protocol: 'h2c' },
      { name: 'ns/ws:80', weight: 1, endpoints: [{ host: '10.0.0.1', port: 8080 }] },
      { name: 'ns/web:80', weight: 1, endpoints: [{ host: '10.0.0.1', port: 8080 }] },
      { name: 'ns/plain:80', weight: 1, endpoints: [{ host: '10.0.0.1', port: 8080 }] },
    ]);
  });
});
