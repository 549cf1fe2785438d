#!/usr/bin/env node
/**
 * agw: the command-line entry of agentgateway-ts (run through cli/bin/agw.js, `npx agw`).
 *   agw local -f <files|dirs>… [--port-map 80=8080] [--demo] [--admin-port 15000]
 *   agw validate -f <files|dirs>… [-o json]
 *   agw token --user user1 [--issuer URL] | --key key.jwk --claims '{…}' [--ttl 1h]
 *   agw status [--kubeconfig f] [-n ns | -A] [-o json]
 * Arguments are parsed by commander (help, `--version`, unknown options named). User mistakes
 * print one message and exit 1 (invalid input, a failure) or 2 (usage); never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { LocalOptions } from './commands/local.js';
import type { TokenOptions } from './commands/token.js';
import { EXIT } from './errors.js';

// Each command's module is imported when it runs: help, --version and usage errors do not pay for
// loading the proxy, the controller and the Kubernetes client (about 2 s of CPU together, measured
// on the 2-core CI machine), and each command loads only what it uses.

/** cli/package.json, read next to dist/ (or src/): the version `agw --version` prints. */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const EXIT_LINE = '\nExit codes: 0 ok, 1 invalid input or a failure, 2 usage (see agw --help).';
const EXIT_CODES = `
Exit codes:
  0  ok
  1  invalid input or a failure: invalid manifests, no kubeconfig, cluster unreachable, CRDs not
     installed, port in use, token endpoint refused
  2  usage: unknown command or option, missing or malformed option value`;

/** A port number option: 0-65535 (0 binds any free port). */
function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0: any free port)');
  return n;
}

/** `--workers`: 1 to 64 processes (the proxy binary's range; more than the machine's CPUs only adds switching). */
function workers(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) throw new InvalidArgumentError('expected a number of worker processes from 1 to 64');
  return n;
}

/** A usage mistake found after parsing (e.g. a malformed --port-map): same output as commander's, exit 2. */
function usage(cmd: Command, message: string): never {
  cmd.error(message, { exitCode: EXIT.usage, code: 'agw.usage' });
}

/** The command line: commander's parsing, help and errors, with agw's output format and exit codes. */
function program(setExit: (code: number) => void): Command {
  const agw = new Command('agw')
    .description(
      'agentgateway-ts: run the gateway locally from manifests, validate them, mint development tokens, read policy status from a cluster',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .helpCommand('help [command]', 'print help of a command')
    // Errors throw a CommanderError (mapped to exit codes in main) instead of calling process.exit.
    .exitOverride()
    .configureOutput({
      // `agw: unknown option '--x'` (commander says `error: …`): every agw error starts with `agw: `.
      outputError: (str, write) => write(`agw: ${str.replace(/^error: /, '').replace(/^unknown command '([^']*)'/, 'unknown command $1')}`),
    })
    .showHelpAfterError('usage: agw <command> [options]   (agw --help: the commands and exit codes)')
    .addHelpText(
      'after',
      `${EXIT_CODES}

Run 'agw <command> --help' for a command's options and examples.`,
    );
  // Each subcommand inherits the settings above; its usage line follows its errors.
  const sub = (name: string) => {
    const cmd = agw.command(name);
    return {
      cmd,
      usageAfterErrors: () => cmd.showHelpAfterError(`usage: agw ${name} ${cmd.usage()}   (agw ${name} --help: options and examples)`),
    };
  };

  const l = sub('local');
  l.cmd
    .summary('run the gateway from manifests on disk, live-reloaded (no cluster)')
    .description(
      "Run the gateway from manifests on disk: the controller's translation and the proxy in one process, no cluster. Files are watched: an edit applies live, an invalid one is refused with the API server's message and the previous version keeps serving. Status conditions print as they change. Ctrl-C stops it.",
    )
    .usage('-f <file|dir>... [options]')
    .option('-f, --file <path...>', 'manifest files or directories (YAML; repeatable; required)')
    .option(
      '--port-map <listener=local...>',
      'serve a Gateway listener port on a local port, e.g. 80=8080 (repeatable; an unmapped listener binds its own port; local port 0: any free one)',
    )
    .option('--host <address>', 'address to bind the listeners and admin server to', '127.0.0.1')
    .option('--admin-port <port>', 'admin server port: /healthz /readyz /metrics /config_dump /status (0: any free port)', port, 15_000)
    .option(
      '--demo',
      'also start a demo identity provider (users user1, user2; password "password") and a demo httpbin, as examples/quickstart expects',
    )
    .option('--demo-idp-port <port>', 'port of the demo identity provider (with --demo; examples/quickstart expects 8081)', port, 8081)
    .option('--demo-upstream-port <port>', 'port of the demo httpbin (with --demo; examples/quickstart expects 8082)', port, 8082)
    .addOption(
      new Option('--log-level <level>', 'proxy log level (logs go to stderr)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('warn'),
    )
    .option('--no-watch', 'load the files once; do not watch them for changes')
    .option(
      '--workers <n>',
      'processes serving the listener ports (they share them, as the proxy binary with --workers); this process keeps translating and fetching keys',
      workers,
      1,
    )
    .addHelpText(
      'after',
      `
Examples:
  agw local -f examples/quickstart --port-map 80=8080 --demo     # what \`npm start\` runs
  agw local -f gateway.yaml -f policies/ --port-map 80=8080      # your own manifests
  agw local -f examples/quickstart --port-map 80=0 --admin-port 0   # any free ports (printed)
  agw local -f examples/quickstart --port-map 80=8080 --demo --workers 2   # two processes serve port 8080
${EXIT_LINE}`,
    )
    .action(async (o: LocalOptions, cmd: Command) => (await import('./commands/local.js')).runLocal(o, (m) => usage(cmd, m)));
  l.usageAfterErrors();

  const v = sub('validate');
  v.cmd
    .summary("validate manifests offline with the CRD's rules and the API server's messages")
    .description(
      "Validate manifests offline with the CRD's rules and the API server's messages: each problem as file:line: object: field: message. AgentgatewayPolicy is checked in full, Gateway API objects for the fields agw reads; other kinds are skipped (and listed).",
    )
    .usage('-f <file|dir>... [options]')
    .option('-f, --file <path...>', 'manifest files or directories (YAML; repeatable; required)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--strict', 'warnings fail too (exit code 1), e.g. in CI')
    .addHelpText(
      'after',
      `
Examples:
  agw validate -f examples/quickstart
  agw validate -f policy.yaml -f routes/ -o json     # {valid, checked, ignored, errors, problems, warnings}
  agw validate --strict -f policies/                 # a CEL expression that does not parse fails too

Exit code 1 when any file does not load or any object is invalid (the API server would refuse it,
or the controller would leave it out). Warnings, printed on stderr, do not change it unless
--strict: a kind spelled with the wrong case, a CEL expression that does not parse (the API server
admits it; the policy is Accepted=True PartiallyValid and the expression fails at every request).
${EXIT_LINE}`,
    )
    .action(async (o: { file?: string[]; output: 'text' | 'json'; strict?: boolean }, cmd: Command) => {
      setExit((await import('./commands/validate.js')).runValidate(o, (m) => usage(cmd, m)));
    });
  v.usageAfterErrors();

  const t = sub('token');
  t.cmd
    .summary('print a development token (password grant, or signed with a JWK file)')
    .description(
      'Print a development token: a password grant to an OpenID provider (the demo identity provider of `agw local --demo`, or Keycloak), or a token signed with a private JWK file.',
    )
    .usage('--user <user> [options] | --key <private.jwk> [options]')
    .option('--user <user>', 'password grant for this user')
    .option('--password <password>', 'password of --user', 'password')
    .option(
      '--issuer <url>',
      'issuer of the password grant (its token endpoint is <url>/protocol/openid-connect/token)',
      'http://localhost:8081/realms/master',
    )
    .option('--client-id <id>', 'client of the password grant', 'agw-client')
    .option('--key <file>', 'sign with this private JWK (JSON with "kid" and "alg") instead of a password grant')
    .addOption(
      new Option('--claims <json>', 'claims of a --key token, a JSON object (iat and exp are set from --ttl unless given)')
        .argParser((value) => {
          let claims: unknown;
          try {
            claims = JSON.parse(value);
          } catch {
            throw new InvalidArgumentError('--claims must be a JSON object');
          }
          if (claims === null || typeof claims !== 'object' || Array.isArray(claims))
            throw new InvalidArgumentError('--claims must be a JSON object');
          return claims;
        })
        .default({}, '{}'),
    )
    .option('--ttl <duration>', 'lifetime of a --key token, e.g. 30m, 1h, 90s', '1h')
    .addHelpText(
      'after',
      `
Examples:
  TOKEN=$(agw token --user user1)      # from the demo identity provider of \`npm start\` / \`agw local --demo\`
  curl -i localhost:8080/headers -H "host: www.example.com" -H "Authorization: Bearer $TOKEN"
  agw token --user user1 --issuer http://keycloak.example:8080/realms/master --client-id my-client
  agw token --key private.jwk --claims '{"sub":"me","iss":"https://issuer.example"}' --ttl 30m
${EXIT_LINE}`,
    )
    .action(async (o: TokenOptions, cmd: Command) => (await import('./commands/token.js')).runToken(o, (m) => usage(cmd, m)));
  t.usageAfterErrors();

  const s = sub('status');
  s.cmd
    .summary('print the policies of a cluster with their ancestors and conditions')
    .description(
      'Print the AgentgatewayPolicies of a cluster with their ancestors and status conditions (Accepted, Attached, Programmed) and the messages of the ones that are not True, as a table.',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('-n, --namespace <namespace>', "namespace (default: the current context's, else default)")
    .option('-A, --all-namespaces', 'every namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Examples:
  agw status                                   # the current context's namespace
  agw status -A -o json
  agw status --kubeconfig ~/.kube/kind-config -n team-a

Needs the CRDs (helm install agentgateway charts/agentgateway -n agentgateway-system --create-namespace)
and, for statuses, the controller running.
${EXIT_LINE}`,
    )
    .action(async (o: { kubeconfig?: string; namespace?: string; allNamespaces?: boolean; output: 'text' | 'json' }) =>
      (await import('./commands/status.js')).runStatus(o),
    );
  s.usageAfterErrors();
  return agw;
}

async function main(argv: string[]): Promise<void> {
  // `agw validate … | head`: a reader that stops early is not an error worth a stack trace.
  process.stdout.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    else throw err;
  });
  let code: number = EXIT.ok;
  const cli = program((c) => {
    code = c;
  });
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help (--help, `agw help <command>`) and --version exit 0 in commander; the help printed
      // because no command was given, and every parsing error (printed with the usage line),
      // exit 1 there: that is agw's 2 (usage).
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    // Anything else is a failure with a message meant for the user: one line, no stack trace.
    // exit() rather than exitCode: a failed `agw local` may leave a server or timer behind.
    process.stderr.write(`agw: ${(err as Error).message}\n`, () => process.exit(EXIT.failed));
    return;
  }
  process.exitCode = code;
}

await main(process.argv.slice(2));
