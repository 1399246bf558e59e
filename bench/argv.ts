/**
 * Command-line flags, read the same way by every bench entry point. A module
 * of its own so that reading a flag imports nothing else: bench:scale must
 * start without the adapter registry, which loads every peer pool.
 */

/** `--name value` or `--name=value`; `''` when the flag is last with no value. */
export function flag(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : (argv[i + 1] ?? '');
}
