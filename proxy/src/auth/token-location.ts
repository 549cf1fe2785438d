import type { CompiledExpression, CompiledTokenLocation } from '@agw/api';

/** What the extractor needs of a request: every value of a header, and the URL. */
export interface CredentialSource {
  /** All values of a header (lower-case name), duplicates kept: Node keeps only the first Authorization in `headers`. */
  readonly header: (lowerCaseName: string) => readonly string[];
  /** Request target: path and query, as received (or as an earlier stage edited it). */
  readonly url: string;
  /**
   * Location `expression`: evaluates it over the request (`request`, `source`; never `jwt`) and
   * gives the value, undefined on an error. Absent: an expression location finds no token.
   */
  readonly evaluate?: (expression: CompiledExpression) => unknown;
}

/** A CredentialSource over a header map (tests and callers that already have one). */
export function credentialSource(headers: Readonly<Record<string, readonly string[] | undefined>>, url: string): CredentialSource {
  return { header: (n) => headers[n] ?? [], url };
}

/**
 * A CredentialSource over Node's `rawHeaders` (name, value, name, value…): scans only for the
 * names asked, instead of building `headersDistinct` for every header of every request.
 */
export function rawHeaderSource(rawHeaders: readonly string[], url: string): CredentialSource {
  return {
    url,
    header: (name) => {
      const out: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const n = rawHeaders[i] as string;
        if (n.length === name.length && n.toLowerCase() === name) out.push(rawHeaders[i + 1] as string);
      }
      return out;
    },
  };
}

export type Extraction = { readonly kind: 'none' } | { readonly kind: 'duplicate' } | { readonly kind: 'found'; readonly token: string };

/** The RFC 6750 query parameter; a token there as well as in the configured place is ambiguous. */
const RFC6750_QUERY = 'access_token';

function queryValues(url: string, name: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  return new URLSearchParams(url.slice(q + 1)).getAll(name);
}

function cookieValues(src: CredentialSource, name: string): string[] {
  const out: string[] = [];
  for (const line of src.header('cookie')) {
    for (const pair of line.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim() === name) out.push(pair.slice(eq + 1).trim());
    }
  }
  return out;
}

function startsWithIgnoringAsciiCase(value: string, prefix: string): boolean {
  return value.length >= prefix.length && value.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase();
}

/** Tokens in header values: all of them without a prefix; else those with it (e.g. not `Basic …`, as upstream), prefix cut. */
function tokensInHeader(values: readonly string[], prefix: string | undefined): readonly string[] {
  if (prefix === undefined) return values;
  return values.filter((v) => startsWithIgnoringAsciiCase(v, prefix)).map((v) => v.slice(prefix.length));
}

function tokensAt(src: CredentialSource, loc: CompiledTokenLocation): readonly string[] {
  switch (loc.kind) {
    case 'header':
      return tokensInHeader(src.header(loc.name.toLowerCase()), loc.prefix);
    case 'query':
      return queryValues(src.url, loc.name);
    case 'cookie':
      return cookieValues(src, loc.name);
    case 'expression':
      return tokenFromExpression(src, undefined);
  }
}

/** Location `expression` (upstream): a string result is the token; anything else, or an error, means no token. */
function tokenFromExpression(src: CredentialSource, expression: CompiledExpression | undefined): readonly string[] {
  if (expression === undefined || src.evaluate === undefined) return [];
  const v = src.evaluate(expression);
  return typeof v === 'string' ? [v] : [];
}

/**
 * The token an expression location finds: a string result, as is (even empty); anything else is
 * none. No duplicate check (the expression decides where to look) and nothing is stripped.
 */
export function extractTokenByExpression(src: CredentialSource, expression: CompiledExpression): Extraction {
  const found = tokenFromExpression(src, expression)[0];
  return found === undefined ? { kind: 'none' } : { kind: 'found', token: found };
}

/**
 * A CredentialSource that sees earlier stages' edits: a header in `overlay` replaces the
 * request's (null: removed), `url` is the edited target.
 */
export function overlaySource(
  base: CredentialSource,
  overlay: ReadonlyMap<string, readonly string[] | null> | undefined,
  url: string,
): CredentialSource {
  return {
    url,
    header: (name) => {
      const o = overlay?.get(name);
      return o === undefined ? base.header(name) : (o ?? []);
    },
    ...(base.evaluate !== undefined ? { evaluate: base.evaluate } : {}),
  };
}

/**
 * Finds the credential at the configured location. More than one value there, or a bearer token
 * also in another standard place (RFC 6750 §2: "MUST NOT use more than one method"), is `duplicate`:
 * the request is ambiguous and is answered 400, never guessed at.
 */
export function extractToken(src: CredentialSource, loc: CompiledTokenLocation): Extraction {
  let here: readonly string[];
  let isAuthorization = false;
  if (loc.kind === 'header') {
    const name = loc.name.toLowerCase();
    const values = src.header(name);
    // Two values of the credential's header are ambiguous even when one lacks the prefix.
    if (values.length > 1) return { kind: 'duplicate' };
    here = tokensInHeader(values, loc.prefix);
    isAuthorization = name === 'authorization';
  } else {
    here = tokensAt(src, loc);
  }
  if (here.length > 1) return { kind: 'duplicate' };
  const token = here[0];
  if (token === undefined) return { kind: 'none' };
  const elsewhere =
    (!isAuthorization && tokensAt(src, { kind: 'header', name: 'authorization', prefix: 'Bearer ' }).length > 0) ||
    (!(loc.kind === 'query' && loc.name === RFC6750_QUERY) && queryValues(src.url, RFC6750_QUERY).length > 0);
  return elsewhere ? { kind: 'duplicate' } : { kind: 'found', token };
}

/** The request URL without the query parameter `name` (other parameters kept, in order). */
export function urlWithoutQueryParam(url: string, name: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((part) => {
      const key = part.split('=', 1)[0] ?? '';
      try {
        return decodeURIComponent(key.replace(/\+/g, ' ')) !== name;
      } catch {
        return true;
      }
    });
  return kept.length === 0 ? url.slice(0, q) : `${url.slice(0, q)}?${kept.join('&')}`;
}

/** The Cookie header value without the cookies `names`; undefined when nothing is left. */
export function cookieHeaderWithout(lines: readonly string[], names: readonly string[]): string | undefined {
  const kept = lines
    .flatMap((l) => l.split(';'))
    .map((p) => p.trim())
    .filter((p) => p !== '' && !names.includes(p.slice(0, p.indexOf('=')).trim()));
  return kept.length === 0 ? undefined : kept.join('; ');
}
