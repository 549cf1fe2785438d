import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { infraBin } from './infra.js';
import type { KubectlResult } from './control-plane.js';

let helmHome: string | undefined;

/** Runs the real helm against a kubeconfig, with private cache/config/data dirs; never throws. */
export async function helm(kubeconfig: string, args: string[]): Promise<KubectlResult> {
  helmHome ??= mkdtempSync(join(tmpdir(), 'agw-helm-'));
  try {
    const { stdout, stderr } = await promisify(execFile)(infraBin('helm'), [...args, `--kubeconfig=${kubeconfig}`], {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
