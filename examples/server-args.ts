/** Command-line flags shared by the server examples: `--port`, `--host`, `--workers`. */
import { availableParallelism } from 'node:os';

export interface ServerArgs {
  port: number;
  host: string;
  workers: number;
}

/** Parses `--port N --host H --workers N` (also `--port=N`); exits with the usage line on anything else. */
export function parseServerArgs(argv: string[], defaults: { port: number; usage: string }): ServerArgs {
  const out: ServerArgs = { port: defaults.port, host: '127.0.0.1', workers: Math.min(availableParallelism(), 16) };
  const fail = (why: string): never => {
    process.stderr.write(`${why}\nusage: ${defaults.usage}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    if (flag === '--host') out.host = value!;
    else if (flag === '--port' || flag === '--workers') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (flag === '--port' ? 0 : 1)) fail(`${flag} must be an integer${flag === '--port' ? ' from 0 to 65535' : ' ≥ 1'}, got '${value}'`);
      if (flag === '--port') out.port = n;
      else out.workers = n;
    } else fail(`unknown flag '${flag}'`);
  }
  return out;
}
