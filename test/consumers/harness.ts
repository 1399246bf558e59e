// Consumer projects: throwaway folders that install spindle from its `npm pack`
// tarball (not the source tree) and run it the way a user would, with the
// tools (tsx, vitest, typescript, bundlers, piscina) linked from this repo's
// node_modules so that no test needs the network.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/consumers). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for failure messages. */
  all: string;
}

/** Runs a command to completion (bounded by `timeout` ms); never throws. */
export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeout ?? 60_000, maxBuffer: 16 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr, all: `exit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}` });
      },
    );
  });
}

let tarball: string | undefined;
let packDir: string | undefined;

// The tarball serves every project of the test file that imports this module, and goes with it
// (a child process of vitest's forks pool is killed, not exited: no 'exit' handler would run).
afterAll(() => {
  if (packDir !== undefined) rmSync(packDir, { recursive: true, force: true });
});

/** `npm pack` of this repository (built already: `npm test` builds first), once per test file. */
export async function pack(): Promise<string> {
  if (tarball !== undefined) return tarball;
  const dir = mkdtempSync(join(tmpdir(), 'spindle-pack-'));
  packDir = dir;
  const r = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: 120_000 });
  if (r.code !== 0) throw new Error(`npm pack failed\n${r.all}`);
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string }[];
  tarball = join(dir, info!.filename);
  return tarball;
}

export interface Project {
  dir: string;
  /** Runs `node args...` in the project. */
  node(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeout?: number; node?: string }): Promise<Run>;
  /** Runs a tool's bin from the project's node_modules/.bin. */
  bin(name: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run>;
  write(path: string, text: string): void;
  dispose(): void;
}

/**
 * A throwaway project: `files` written out, spindle installed from the packed
 * tarball into node_modules/spindle, and each of `tools` linked from this repo.
 */
export async function project(name: string, files: Record<string, string>, tools: string[] = []): Promise<Project> {
  const tgz = await pack();
  const dir = mkdtempSync(join(tmpdir(), `spindle-consumer-${name}-`));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  for (const [path, text] of Object.entries(files)) write(path, text);
  const nm = join(dir, 'node_modules');
  mkdirSync(join(nm, 'spindle'), { recursive: true });
  const untar = await run('tar', ['xzf', tgz, '-C', join(nm, 'spindle'), '--strip-components=1'], { cwd: dir });
  if (untar.code !== 0) throw new Error(`untar failed\n${untar.all}`);
  mkdirSync(join(nm, '.bin'), { recursive: true });
  for (const tool of tools) {
    const target = join(ROOT, 'node_modules', tool);
    if (!existsSync(target)) throw new Error(`consumer tool ${tool} is not installed in ${ROOT}node_modules`);
    mkdirSync(dirname(join(nm, tool)), { recursive: true });
    symlinkSync(target, join(nm, tool), 'dir');
    const pkg = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
    const bins = typeof pkg.bin === 'string' ? { [tool.split('/').pop()!]: pkg.bin } : pkg.bin ?? {};
    for (const [b, rel] of Object.entries(bins)) symlinkSync(join(target, rel), join(nm, '.bin', b));
  }
  return {
    dir,
    write,
    node: (args, o = {}) => run(o.node ?? process.execPath, args, { cwd: dir, ...o }),
    // A JavaScript bin runs on this Node (process.execPath: the Node under test); a native one (esbuild) as is.
    bin: (b, args, o = {}) => {
      const path = join(nm, '.bin', b);
      const native = readFileSync(path).subarray(0, 4).toString('latin1') === '\x7fELF';
      return native ? run(path, args, { cwd: dir, ...o }) : run(process.execPath, [path, ...args], { cwd: dir, ...o });
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Starts a long-running command (a watcher); the caller kills it. */
export function start(cmd: string, args: string[], cwd: string): { child: ChildProcess; output: () => string; waitFor(re: RegExp, ms: number): Promise<string> } {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const waiters: (() => void)[] = [];
  const on = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', on);
  child.stderr!.on('data', on);
  return {
    child,
    output: () => out,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${re}; output:\n${out}`)), ms);
        const check = (): void => {
          const m = re.exec(out);
          if (m !== null) {
            clearTimeout(timer);
            resolve(m[0]);
          } else waiters.push(check);
        };
        check();
      }),
  };
}

/** Ends a process group started by `start` (the watcher and the children it runs). */
export function killTree(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Slow consumer tests (bundlers, piscina comparison) run when this is set; `.ci/run` sets it. */
export const SLOW = process.env['SPINDLE_CONSUMERS_SLOW'] === '1';
