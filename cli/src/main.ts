#!/usr/bin/env node
/**
 * agw: the command-line entry of agentgateway-ts.
 *   agw local -f <files|dirs>… [--port-map 80=8080] [--demo] [--admin-port 15000]
 *   agw validate -f <files|dirs>… [-o json]
 *   agw token --user user1 [--issuer URL] | --key key.jwk --claims '{…}' [--ttl 1h]
 * User mistakes print a message and exit 1 or 2; never a stack trace.
 */
import { parseArgs } from 'node:util';
import { parseDurationMs } from '@agw/api';
import { destination, pino } from 'pino';
import { startDemoIdp } from './demo/demo-idp.js';
import { startHttpbin } from './demo/httpbin.js';
import { LocalGateway } from './local/local-gateway.js';
import { formatLoadError, loadManifests } from './manifests.js';
import { KubeRest } from '@agw/controller';
import { parsePortMap } from '@agw/proxy';
import { KubeConfig } from '@kubernetes/client-node';
import { fetchPolicies, statusTable } from './status.js';
import { mintFromKey, passwordGrant } from './token.js';
import { formatProblem, formatWarning, validateManifests } from './validate.js';

const USAGE = `usage:
  agw local -f <file|dir>... [--port-map 80=8080]... [--host 127.0.0.1] [--admin-port 15000] [--demo] [--log-level warn]
  agw validate -f <file|dir>... [-o text|json]
  agw token --user <user> [--password password] [--issuer http://localhost:8081/realms/master] [--client-id agw-client]
  agw token --key <private.jwk> [--claims '{"sub":"me","iss":"..."}'] [--ttl 1h]
  agw status [--kubeconfig <file>] [-n <namespace> | -A] [-o text|json]`;

class UsageError extends Error {}

function portMapOf(values: readonly string[]): Map<number, number> {
  try { return parsePortMap(values); } catch (err) { throw new UsageError((err as Error).message); }
}

async function local(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, options: {
      file: { type: 'string', short: 'f', multiple: true }, 'port-map': { type: 'string', multiple: true },
      host: { type: 'string', default: '127.0.0.1' }, 'admin-port': { type: 'string', default: '15000' },
      demo: { type: 'boolean', default: false }, 'demo-idp-port': { type: 'string', default: '8081' },
      'demo-upstream-port': { type: 'string', default: '8082' }, 'log-level': { type: 'string', default: 'warn' },
      'no-watch': { type: 'boolean', default: false },
    },
  });
  if (!values.file?.length) throw new UsageError('agw local needs -f <file|dir>');
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const closers: Array<() => Promise<void>> = [];
  if (values.demo) {
    const idp = await startDemoIdp({ port: Number(values['demo-idp-port']) });
    const bin = await startHttpbin({ port: Number(values['demo-upstream-port']) });
    closers.push(() => idp.close(), () => bin.close());
    print(`demo identity provider: ${idp.issuer} (users user1, user2; password "password")`);
    print(`demo upstream (httpbin): http://127.0.0.1:${bin.port}`);
  }
  const portMap = portMapOf(values['port-map'] ?? []);
  const gw = new LocalGateway({
    paths: values.file, portMap, host: values.host,
    adminPort: Number(values['admin-port']), logger: pino({ level: values['log-level'] }, destination(2)),
    print, watch: !values['no-watch'],
  });
  await gw.start();
  print(`admin: http://${values.host}:${gw.adminPort ?? ''}/{healthz,readyz,metrics,config_dump,status}`);
  if (values.demo) {
    const port = portMap.get(80) ?? 80;
    print('\ntry:');
    print(`  curl -i localhost:${port}/headers -H "host: www.example.com"`);
    print(`  TOKEN=$(curl -s localhost:${values['demo-idp-port']}/realms/master/protocol/openid-connect/token -d grant_type=password -d client_id=agw-client -d username=user1 -d password=password | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`);
    print(`  curl -i localhost:${port}/headers -H "host: www.example.com" -H "Authorization: Bearer $TOKEN"`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gw.stop();
    for (const c of closers) await c();
    process.exit(0);
  };
  process.on('SIGINT', () => { void stop(); });
  process.on('SIGTERM', () => { void stop(); });
}

function validate(args: string[]): number {
  const { values } = parseArgs({ args, options: { file: { type: 'string', short: 'f', multiple: true }, output: { type: 'string', short: 'o', default: 'text' } } });
  if (!values.file?.length) throw new UsageError('agw validate needs -f <file|dir>');
  // Neither call throws on bad input: every unreadable or unparsable file is an error naming it.
  const { manifests, errors } = loadManifests(values.file);
  const { problems, checked, ignored, warnings } = validateManifests(manifests);
  // Warnings (a kind spelled with the wrong case) never change the exit code.
  const ok = errors.length === 0 && problems.length === 0;
  if (values.output === 'json') {
    process.stdout.write(`${JSON.stringify({ valid: ok, checked, ignored, errors, problems, warnings }, null, 2)}\n`);
  } else {
    for (const e of errors) process.stdout.write(`${formatLoadError(e)}\n`);
    for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
    for (const i of ignored) process.stdout.write(`${i}: not a kind agw reads (skipped)\n`);
    for (const w of warnings) process.stderr.write(`${formatWarning(w)}\n`);
    process.stdout.write(ok ? `${checked} object(s) valid\n` : `${errors.length + problems.length} problem(s) in ${manifests.length} object(s)\n`);
  }
  return ok ? 0 : 1;
}

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, options: {
      user: { type: 'string' }, password: { type: 'string', default: 'password' },
      issuer: { type: 'string', default: 'http://localhost:8081/realms/master' }, 'client-id': { type: 'string', default: 'agw-client' },
      key: { type: 'string' }, claims: { type: 'string', default: '{}' }, ttl: { type: 'string', default: '1h' },
    },
  });
  let t: string;
  if (values.key !== undefined) {
    const ttl = parseDurationMs(values.ttl);
    if (ttl === undefined) throw new UsageError(`--ttl ${values.ttl}: expected a duration such as 30m or 1h`);
    let claims: Record<string, unknown>;
    try { claims = JSON.parse(values.claims) as Record<string, unknown>; } catch { throw new UsageError('--claims must be a JSON object'); }
    t = await mintFromKey({ keyFile: values.key, claims, ttlSec: Math.floor(ttl / 1000) });
  } else if (values.user !== undefined) {
    t = await passwordGrant({ issuer: values.issuer, user: values.user, password: values.password, clientId: values['client-id'] });
  } else {
    throw new UsageError('agw token needs --user or --key');
  }
  process.stdout.write(`${t}\n`);
}

async function status(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { kubeconfig: { type: 'string' }, namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A', default: false }, output: { type: 'string', short: 'o', default: 'text' } } });
  const kc = new KubeConfig();
  if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig); else kc.loadFromDefault();
  const ns = values['all-namespaces'] ? undefined : values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const policies = await fetchPolicies(new KubeRest(kc), ns);
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(policies.map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, ancestors: p.status?.ancestors ?? [] })), null, 2)}\n` : statusTable(policies));
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'local': await local(rest); return -1;
    case 'validate': return validate(rest);
    case 'token': await token(rest); return 0;
    case 'status': await status(rest); return 0;
    case undefined: case '-h': case '--help': case 'help': process.stdout.write(`${USAGE}\n`); return command === undefined ? 2 : 0;
    default: throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exitCode = code; }, (err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`agw: ${e.message}\n${err instanceof UsageError ? `${USAGE}\n` : ''}`);
  process.exitCode = err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
});
