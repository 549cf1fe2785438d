/**
 * Bounds of the CEL module. Each turns a hostile input into an error of that one expression
 * (never a thrown exception, never an unbounded stall of the event loop), and each is far above
 * what a real policy needs. Measured with @marcbachmann/cel-js 8.0.0 on Node 20; the tests in
 * compile.test.ts ("size and nesting bounds", "hostile expressions are bounded") pin each one.
 */
export const CelLimits = {
  /**
   * Longest expression, in UTF-16 code units: the CRD's `maxLength` for CEL fields (16 KiB).
   * Longer is refused before parsing. Compiling a 16 KiB expression takes ~15 ms.
   */
  maxExpressionLength: 16_384,
  /**
   * Deepest syntactic nesting: brackets `( [ {` (so call arguments, lists, maps) and runs of
   * unary `!`/`-`, refused by a linear pre-scan before parsing; the parser's own recursion limit
   * (129, it counts a method call twice) backs it up. The library's recursive-descent parser
   * overflows the default V8 stack at ~1,000 nested parentheses, so without the scan a
   * 16 KiB expression of 8,000 `(` would throw a RangeError from deep inside the parser.
   */
  maxNesting: 64,
  /**
   * Deepest AST after parsing, which also counts left-associative operator chains
   * (`a || b || c …` is a tree as deep as it is long), checked iteratively before type checking.
   * Type checking overflowed the default stack at ~6,000 levels and evaluation at ~3,000-4,000
   * (from a shallow stack); 1,024 keeps a 3x margin for a request path that is already deep
   * (a test evaluates the deepest AST from 2,000 frames down) and admits a full 16 KiB chain of
   * `jwt.sub == '…' ||` terms (~700).
   */
  maxAstDepth: 1_024,
  /**
   * Evaluation budget per `evaluate()` call, in cost units of roughly 50 ns of work each:
   * - 1 per AST node evaluated (comprehension steps count once per element);
   * - for every value a variable read, field/index access, function call or `+` produces,
   *   1 per 64 characters or bytes of a string/bytes and 1 per 4 elements of a list;
   * - inside functions, for work proportional to their input: `json()` 1 per 2 characters
   *   (parsed once per distinct input per evaluation), `toJson()` and `base64.encode` 1 per 2,
   *   `sha256.encode`, `url.*` and `base64.decode` 1 per 4, `matches`/`regexReplace` by regex
   *   program size × input length (regex.ts), charged before the work runs.
   *
   * Spent, the evaluation fails with code `cost_limit_exceeded`. Without comprehensions a node
   * evaluates at most once, so only comprehensions, repeated scans of large values and
   * value-doubling (`cel.bind(x, x + x, …)`) get near it. The worst shapes measured took
   * 35-60 ms of CPU before failing (1,000 × 1,000 nested `map`, list doubling, 1,000 ×
   * `sha256.encode` of a 1 MiB body), while `json()` of a 1 MiB body plus an `exists()` over
   * its 20,000 items (~20 ms) uses under half the budget.
   */
  maxEvaluationCost: 1_000_000,
  /**
   * Largest input of `json()`: 1 MiB (1,048,576 UTF-16 code units for a string, bytes for bytes);
   * parsing that much takes ~25 ms. Larger inputs are refused before parsing (`json_too_large`).
   */
  maxJsonInputLength: 1_048_576,
  /** Deepest JSON nesting accepted by `json()` (serde_json's recursion limit upstream: 128). */
  maxJsonDepth: 128,
  /** Deepest value `toJson()` serializes (deeper is an error, not a stack overflow). */
  maxToJsonDepth: 256,
  /**
   * Longest string, bytes or list a `+` or one of this module's functions may produce (4 Mi
   * code units / bytes / elements, 4x the largest `json()` input). A larger result is an error
   * (`value_too_large`), refused before it is built where the length is known in advance.
   */
  maxValueLength: 4 * 1024 * 1024,
  /** Longest regular expression accepted by `matches`/`regexReplace` (as HTTPRoute regexes). */
  maxRegexLength: 4_096,
  /** Compiled regular expressions memoized per process (the memo is emptied when full). */
  regexCacheSize: 256,
} as const;
