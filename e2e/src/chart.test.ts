import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { kubectl, helm } from '@agw/test-kit';

/**
 * The chart with the real helm: lint, a golden `helm template`, and upgrade / uninstall /
 * reinstall on the real API server (install happens in global setup, as users do it first).
 */
const chart = resolve(process.cwd(), 'charts/agentgateway');
const golden = resolve(process.cwd(), 'e2e/testdata/chart-template.golden.yaml');
const admin = () => inject('kubeconfig');
/** The chart generates the config stream's CA and certificate at each `helm template` (no lookup): placeholders in the golden. */
const redactGenerated = (yaml: string) =>
  yaml.replace(/^(\s*(?:tls\.crt|tls\.key|ca\.crt|agentgateway\.dev\/xds-tls-sha256): ).+$/gm, '$1<generated>');

describe('charts/agentgateway', () => {
  it('helm lint is clean', async () => {
    const r = await helm(admin(), ['lint', chart, '--strict']);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('helm template matches the golden file (UPDATE_GOLDEN=1 rewrites it)', async () => {
    const r = await helm(admin(), ['template', 'agentgateway', chart, '-n', 'agentgateway-system', '--kube-version', '1.34.4']);
    expect(r.code, r.stderr).toBe(0);
    const out = redactGenerated(r.stdout);
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(golden, out);
    expect(existsSync(golden), `${golden} is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });

  it("the controller's V8 heap limit is 60% of its memory limit (Mi or Gi), none for another unit", async () => {
    const args = async (...set: string[]) => {
      const r = await helm(admin(), ['template', 'agentgateway', chart, '--kube-version', '1.34.4', ...set.flatMap((v) => ['--set', v])]);
      expect(r.code, r.stderr).toBe(0);
      return /^\s+args: \[node, (.*)\]$/m.exec(r.stdout)?.[1];
    };
    expect(await args()).toBe('--max-old-space-size=307, controller/dist/main.js');
    expect(await args('controller.resources.limits.memory=2Gi')).toBe('--max-old-space-size=1228, controller/dist/main.js');
    expect(await args('controller.resources.limits.memory=1.5Gi')).toBe('--max-old-space-size=921, controller/dist/main.js');
    expect(await args('controller.resources.limits.memory=1000M')).toBe('controller/dist/main.js');
  });

  it('values.schema.json refuses a bad value with a clear error', async () => {
    const r = await helm(admin(), ['template', 'agentgateway', chart, '--kube-version', '1.34.4', '--set', 'proxy.serviceType=Bogus']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('serviceType');
  });

  it('the install of global setup created the controller objects; upgrade and uninstall work; a reinstall restores them', async () => {
    const deploy = await kubectl(admin(), ['get', 'deployment', 'agentgateway', '-n', 'agentgateway-system', '-o', 'json']);
    expect(deploy.code, deploy.stderr).toBe(0);
    const spec = JSON.parse(deploy.stdout) as {
      spec: {
        replicas: number;
        template: { spec: { serviceAccountName: string; containers: Array<{ securityContext: Record<string, unknown> }> } };
      };
    };
    expect(spec.spec.template.spec.serviceAccountName).toBe('agentgateway');
    expect(spec.spec.template.spec.containers[0]?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    const up = await helm(admin(), ['upgrade', 'agentgateway', chart, '-n', 'agentgateway-system', '--set', 'controller.replicas=2']);
    expect(up.code, up.stderr).toBe(0);
    const replicas = await kubectl(admin(), [
      'get',
      'deployment',
      'agentgateway',
      '-n',
      'agentgateway-system',
      '-o',
      'jsonpath={.spec.replicas}',
    ]);
    expect(replicas.stdout).toBe('2');
    const down = await helm(admin(), ['uninstall', 'agentgateway', '-n', 'agentgateway-system']);
    expect(down.code, down.stderr).toBe(0);
    expect((await kubectl(admin(), ['get', 'clusterrole', 'agentgateway-controller'])).code).not.toBe(0);
    // The GatewayClass is kept (resource-policy keep): Gateways of the class must not lose it.
    expect((await kubectl(admin(), ['get', 'gatewayclass', 'agentgateway'])).code).toBe(0);
    // Uninstall keeps the CRD (helm never deletes crds/), so policies survive it.
    expect((await kubectl(admin(), ['get', 'crd', 'agentgatewaypolicies.agentgateway.dev'])).code).toBe(0);
    const again = await helm(admin(), ['install', 'agentgateway', chart, '-n', 'agentgateway-system']);
    expect(again.code, again.stderr).toBe(0);
    expect((await kubectl(admin(), ['get', 'clusterrole', 'agentgateway-controller'])).code).toBe(0);
  });
});
