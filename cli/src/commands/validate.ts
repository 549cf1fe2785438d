import { EXIT } from '../errors.js';
import { formatLoadError, loadManifests } from '../manifests.js';
import { formatProblem, formatWarning, validateManifests } from '../validate.js';

/** `agw validate`: prints every load error, problem and warning; resolves to the exit code (1 on any error or problem; with --strict, on a warning too). */
export function runValidate(o: { file?: string[]; output: 'text' | 'json'; strict?: boolean }, usage: (message: string) => never): number {
  if (!o.file?.length) usage('needs -f <file|dir>');
  // Neither call throws on bad input: every unreadable or unparsable file is an error naming it.
  const { manifests, errors } = loadManifests(o.file);
  const { problems, checked, ignored, warnings } = validateManifests(manifests);
  // Warnings (what the API server admits: a kind's case, a CEL expression that does not parse)
  // change the exit code only with --strict.
  const ok = errors.length === 0 && problems.length === 0 && (o.strict !== true || warnings.length === 0);
  if (o.output === 'json') {
    process.stdout.write(`${JSON.stringify({ valid: ok, checked, ignored, errors, problems, warnings }, null, 2)}\n`);
  } else {
    for (const e of errors) process.stdout.write(`${formatLoadError(e)}\n`);
    for (const p of problems) process.stdout.write(`${formatProblem(p)}\n`);
    for (const i of ignored) process.stdout.write(`${i}: not a kind agw reads (skipped)\n`);
    for (const w of warnings) process.stderr.write(`${formatWarning(w)}\n`);
    process.stdout.write(
      ok
        ? `${checked} object(s) valid${warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''}\n`
        : `${errors.length + problems.length + (o.strict === true ? warnings.length : 0)} problem(s) in ${manifests.length} object(s)\n`,
    );
  }
  return ok ? EXIT.ok : EXIT.failed;
}
