// Runs an example server as its own process (as `npm run <example>` does) and stops it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from '../helpers.js';

export interface RunningExample {
  port: number;
  stdout: () => string;
  /** Sends the signal; resolves with the exit code once the process is gone. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
  proc: ChildProcess;
}

/** Starts `dist/examples/<name>/main.js` with `args` and waits for its `listening on HOST:PORT` line. */
export async function startExample(name: string, args: string[]): Promise<RunningExample> {
  const main = fileURLToPath(new URL(`../../examples/${name}/main.js`, import.meta.url));
  const proc = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const port = await within(
    new Promise<number>((resolve, reject) => {
      const check = (): void => {
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      };
      proc.stdout!.on('data', check);
      void exited.then((code) => reject(new Error(`${name} exited with ${code} before listening: ${err}`)));
    }),
    20_000,
    `${name} to print 'listening on'`,
  );
  return {
    port,
    proc,
    stdout: () => out,
    stop: async (signal) => {
      proc.kill(signal);
      return within(exited, 20_000, `${name} to exit after ${signal}`);
    },
  };
}
