import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/infra/all.sh put the binaries (AGW_INFRA_HOME, default ~/.cache/agw-infra). */
export const INFRA_HOME = process.env['AGW_INFRA_HOME'] ?? join(homedir(), '.cache', 'agw-infra');

/** Absolute path of an infra binary; throws (never skips) when it is missing. */
export function infraBin(name: 'etcd' | 'kube-apiserver' | 'kubectl' | 'helm'): string {
  const path = join(INFRA_HOME, 'bin', name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/infra/all.sh\` first`);
  return path;
}

/** Directory of the Gateway API standard CRDs. */
export function gatewayApiCrdDir(): string {
  const dir = readdirSync(INFRA_HOME).find((d) => d.startsWith('gateway-api-'));
  if (dir === undefined) throw new Error(`no Gateway API CRDs under ${INFRA_HOME}: run scripts/infra/all.sh`);
  return join(INFRA_HOME, dir);
}

/** Keycloak distribution directory. */
export function keycloakDir(): string {
  const dir = readdirSync(INFRA_HOME).find((d) => /^keycloak-\d/.test(d));
  if (dir === undefined) throw new Error(`no Keycloak under ${INFRA_HOME}: run scripts/infra/all.sh`);
  return join(INFRA_HOME, dir);
}
