/**
 * How a runtime starts its worker threads, wherever spindle was loaded from:
 * an installed package, a bundle, CommonJS, tsx, vitest, a worker of the
 * user's own.
 *
 * - **No entry file.** A worker starts from a few lines of code (a `data:` URL) that
 *   import the module this file is compiled into — `dist/src/worker-spawn.js`
 *   when installed, the bundle chunk holding spindle when bundled — and call
 *   the bootstrap registered below. A bundled app run from another folder has
 *   nothing to find.
 * - **Node's flags.** Workers get the main thread's `execArgv` minus what a
 *   worker cannot take (`--input-type`, the `--eval` family, `--watch`,
 *   `--inspect`, per-process flags; anything Node still rejects is dropped on a
 *   retry). Loader flags (`--import`, `--loader`, `--require`) go through.
 * - **Loaders.** If the main thread runs under tsx, its folder is passed on, so
 *   that a worker registers the same tsx before importing a `.ts` task module
 *   (worker-loaders.ts).
 */
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ErrorCode, SpindleError, ERR_BUNDLED_MAIN, ERR_NO_MODULE_URL } from './errors.js';
import { resolveTsxDir, type LoaderHints } from './worker-loaders.js';
import { bootWorker, type WorkerData } from '../workers/worker.js';
// Registers the shared kinds (Arc, Mutex, ..., channel ends) so that handles sent to tasks revive in workers.
import './sync/index.js';
import './channel/index.js';

const SELF: string | undefined = import.meta.url;
const BOOT = Symbol.for('spindle.bootWorker');

// The bootstrap, found by the worker's entry code under this module's URL (two
// copies of spindle in one process each boot their own workers).
if (SELF) {
  const g = globalThis as { [BOOT]?: Record<string, (d: WorkerData) => void> };
  (g[BOOT] ??= {})[SELF] = bootWorker;
}

/**
 * Flags a worker must not get. `true`: the flag takes a value as the next
 * argument when written without `=`.
 */
const DROP = new Map<string, boolean>([
  ['--input-type', true],
  ['--eval', true],
  ['-e', true],
  ['--print', true],
  ['-p', true],
  ['--check', false],
  ['-c', false],
  ['--interactive', false],
  ['-i', false],
  ['--test', false],
  ['--watch', false],
  ['--watch-path', true],
  ['--watch-preserve-output', false],
  ['--watch-kill-signal', true],
  ['--inspect', false],
  ['--inspect-brk', false],
  ['--inspect-wait', false],
  ['--inspect-port', true],
  ['--debug-port', true],
  ['--inspect-publish-uid', true],
  ['--title', true],
  ['--run', true],
  ['--entry-url', false],
  ['--experimental-strip-types', false],
  ['--no-experimental-strip-types', false],
  ['--experimental-transform-types', false],
  ['--experimental-sea-config', true],
  ['--snapshot-blob', true],
  ['--build-snapshot', false],
  ['--env-file', true],
  ['--env-file-if-exists', true],
  ['--permission', false],
  ['--experimental-permission', false],
  ['--allow-fs-read', true],
  ['--allow-fs-write', true],
  ['--allow-child-process', false],
  ['--allow-worker', false],
  ['--allow-addons', false],
  ['--allow-wasi', false],
]);
/** Prefixes of flag families a worker must not get (all take their value with `=`, or none). */
const DROP_PREFIX = ['--test-', '--experimental-test-', '--watch-', '--inspect-', '--cpu-prof', '--heap-prof', '--prof'];

/**
 * The main thread's `execArgv` as workers may take it: drops the flags in
 * `DROP` (with their values) and the `DROP_PREFIX` families; keeps everything
 * else, loader flags (`--import`, `--loader`, `--require`) included.
 */
export function filterExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('-') ? (eq === -1 ? a : a.slice(0, eq)) : a;
    const takesValue = DROP.get(flag);
    if (takesValue !== undefined) {
      if (takesValue && eq === -1) i++; // its value
      continue;
    }
    if (DROP_PREFIX.some((p) => flag.startsWith(p))) continue;
    out.push(a);
  }
  return out;
}

/** Flags Node named as invalid for a worker in an `ERR_WORKER_INVALID_EXEC_ARGV`. */
function invalidFlags(e: unknown): string[] {
  const m = /flags: (.*)$/.exec((e as Error)?.message ?? '');
  return m === null ? [] : m[1]!.split(', ').map((f) => f.trim());
}

let cachedArgv: { from: string; argv: string[] } | undefined;

function workerExecArgv(): string[] {
  const from = JSON.stringify(process.execArgv);
  if (cachedArgv?.from !== from) cachedArgv = { from, argv: filterExecArgv(process.execArgv) };
  return cachedArgv.argv;
}

/** The tsx package folder the main thread runs under (`tsx main.ts`, `node --import tsx`), if any. */
export function tsxDirOfProcess(): string | undefined {
  const args = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--(?:import|loader|experimental-loader|require)(?:=(.*))?$/.exec(a) ?? /^-r(.*)?$/.exec(a);
    if (m === null) continue;
    const v = m[1] || args[i + 1];
    if (v === undefined) continue;
    const path = v.startsWith('file:') ? fileURLToPath(v) : v;
    const at = path.replace(/\\/g, '/').lastIndexOf('/node_modules/tsx/');
    if (at !== -1) return path.slice(0, at + '/node_modules/tsx'.length);
    if (/^tsx(\/|$)/.test(v)) return resolveTsxDir(join(process.cwd(), 'noop.js'));
    if (isAbsolute(path) && /\/tsx\/dist\//.test(path)) return path.slice(0, path.indexOf('/dist/'));
  }
  return undefined;
}

// The entry is a data: URL module, not `eval` code: Node runs the `--import`
// preloads for a URL entry, not for an eval one (Node 20).
function entryCode(self: string): string {
  const url = JSON.stringify(self);
  const bundled = JSON.stringify(ERR_BUNDLED_MAIN(self, '\u0000'));
  return [
    `globalThis[Symbol.for('spindle.runtimeWorker')] = true;`,
    `import('node:worker_threads').then((wt) => import(${url}).then(`,
    `  () => globalThis[Symbol.for('spindle.bootWorker')][${url}](wt.workerData),`,
    `  (e) => { if (e && e.code === 'ERR_SPINDLE_WRONG_CONTEXT') throw new Error(${bundled}.replace('\\u0000', e.message), { cause: e }); throw e; }));`,
  ].join('\n');
}

/** What starting one runtime worker takes. */
export interface StartWorker {
  workerData: Omit<WorkerData, 'loaders'>;
  transferList: readonly MessagePortLike[];
  resourceLimits: ResourceLimits | undefined;
}
type MessagePortLike = NonNullable<ConstructorParameters<typeof Worker>[1]>['transferList'] extends
  | readonly (infer T)[]
  | undefined
  ? T
  : never;

let loaderHints: LoaderHints | undefined;

/** Checks, once per runtime, that workers can be started from where spindle was loaded. */
export function checkWorkerSetup(): void {
  if (!SELF) throw new SpindleError(ErrorCode.UNSUPPORTED_SETUP, ERR_NO_MODULE_URL);
}

/** Starts one runtime worker: no entry file, filtered `execArgv`, loader hints. */
export function startRuntimeWorker(o: StartWorker): Worker {
  checkWorkerSetup();
  loaderHints ??= { tsxDir: tsxDirOfProcess() };
  const opts = {
    workerData: { ...o.workerData, loaders: loaderHints },
    transferList: o.transferList as MessagePortLike[],
    resourceLimits: o.resourceLimits,
    execArgv: workerExecArgv(),
  };
  for (;;) {
    try {
      return new Worker(new URL(`data:text/javascript,${encodeURIComponent(entryCode(SELF!))}`), opts);
    } catch (e) {
      const bad = (e as { code?: string }).code === 'ERR_WORKER_INVALID_EXEC_ARGV' ? invalidFlags(e) : [];
      const next = opts.execArgv.filter((a) => !bad.includes(a) && !bad.includes(a.split('=')[0]!));
      if (bad.length === 0 || next.length === opts.execArgv.length) throw e;
      opts.execArgv = next;
      if (cachedArgv !== undefined) cachedArgv.argv = next;
    }
  }
}
