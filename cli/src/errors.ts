// Imports nothing heavy: main.ts loads it for every command, --help and --version included.

/**
 * Exit codes of `agw` (printed by `agw --help`, listed in README.md):
 * 0 ok; 1 invalid input or a failure (invalid manifests, no kubeconfig, cluster unreachable, port
 * in use, …); 2 usage (unknown command or flag, missing or malformed option value).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A listen() error (EADDRINUSE, EACCES) with the port it was for. */
export interface ListenError {
  readonly code: string;
  readonly port: number;
}

export function isListenError(err: unknown): err is Error & ListenError {
  const e = err as { code?: unknown; port?: unknown } | null;
  return e !== null && typeof e === 'object' && (e.code === 'EADDRINUSE' || e.code === 'EACCES') && typeof e.port === 'number';
}

/**
 * `port 8080 is in use: pick another with --port-map 80=<port>`. `flag` is how the user picks
 * the port of what failed to bind, e.g. `--port-map 80=<port>` or `--admin-port <port>`; `note`,
 * when given, follows in parentheses (e.g. what else expects that port).
 */
export function listenFailure(err: ListenError, flag: string, note?: string): string {
  const tail = note === undefined ? '' : ` (${note})`;
  if (err.code === 'EACCES')
    return `port ${err.port} needs privileges to bind (EACCES; ports below 1024 do on Linux): pick another with ${flag}${tail}`;
  return `port ${err.port} is in use: pick another with ${flag}${tail}`;
}
