import { defaultGatewayClass, reconcilePass } from '@agw/controller';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../manifests.js';
import { validateManifests } from '../validate.js';

/**
 * Local mode has no config stream: certificates come from `v1 Secret` manifests (base64 `data` or
 * `stringData`) through the same reconcilePass as the cluster, into the in-process proxy's config.
 */
const fixture = (f: string) => readFileSync(new URL(`../../../controller/testdata/tls/${f}`, import.meta.url), 'utf8');
const crt = fixture('example.crt.pem');
const key = fixture('example.key.pem');
const indent = (s: string) => s.trim().replace(/\n/g, '\n      ');

function manifests(secretData: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: agentgateway
  listeners:
  - {name: https, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: cert}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
${secretData}
`;
}

function local(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'agw-local-tls-'));
  writeFileSync(join(dir, 'gw.yaml'), text);
  const loaded = loadManifests([dir]);
  expect(loaded.errors).toEqual([]);
  const controllerName = 'agentgateway.dev/agentgateway';
  const objects = [...loaded.manifests.map((m) => m.object), defaultGatewayClass('agentgateway', controllerName)];
  const pass = reconcilePass({ objects, controllerName, jwks: new Map() });
  return { loaded, listeners: pass.configs.get('default/gw')?.listeners ?? [], gateway: pass.out.status.gateways.get('default/gw') };
}

describe('agw local: certificates from Secret manifests', () => {
  it.each([
    ['stringData', `stringData:\n  tls.crt: |\n      ${indent(crt)}\n  tls.key: |\n      ${indent(key)}`],
    ['base64 data', `data:\n  tls.crt: ${Buffer.from(crt).toString('base64')}\n  tls.key: ${Buffer.from(key).toString('base64')}`],
  ])('%s: the HTTPS listener is served with the certificate', (_what, data) => {
    const { loaded, listeners } = local(manifests(data));
    expect(validateManifests(loaded.manifests)).toMatchObject({ problems: [], ignored: [], checked: 2 });
    expect(listeners).toEqual([
      {
        name: 'https',
        port: 8443,
        protocol: 'HTTPS',
        tls: { certificates: [{ name: 'default/cert', certChainPem: crt, privateKeyPem: key }] },
      },
    ]);
  });

  it('a Secret without tls.key: the listener is not served, the status says why', () => {
    const { listeners, gateway } = local(manifests(`stringData:\n  tls.crt: |\n      ${indent(crt)}`));
    expect(listeners).toEqual([]);
    expect(gateway?.listeners[0]?.conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'InvalidCertificateRef',
      message: 'tls.certificateRefs[0]: Secret default/cert has no tls.key',
    });
  });
});
