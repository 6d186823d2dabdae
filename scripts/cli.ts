/**
 * The tail every CLI shares: runs `main`, and on failure prints the error and exits with status 1.
 *
 * - `print`: `'message'` for the errors a user fixes (bad arguments, no active version: the
 *   message alone), `'stack'` for the stack, `'error'` (default) for the error as Node prints it,
 *   or a function of the error.
 * - `exit`: `'code'` (default) sets `process.exitCode` and lets pending work end; `'now'` exits at
 *   once (a server, pool or timer may still hold the event loop).
 */
export function runMain(
  main: () => Promise<unknown>,
  options: { print?: 'message' | 'stack' | 'error' | ((error: unknown) => unknown); exit?: 'code' | 'now' } = {},
): void {
  const print = options.print ?? 'error';
  main().catch((error: unknown) => {
    if (typeof print === 'function') console.error(print(error));
    else if (print === 'message') console.error(error instanceof Error ? error.message : error);
    else if (print === 'stack') console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    else console.error(error);
    if (options.exit === 'now') process.exit(1);
    process.exitCode = 1;
  });
}
