/**
 * Task definitions: the code half of a task descriptor.
 *
 * A function cannot cross a thread, so a task names its code: either a task
 * defined in a module (`task(import.meta.url, fn)`: the module URL and a name;
 * each worker imports the module on first use and finds the function in its
 * registry), or an inline function shipped as its source text and compiled
 * once per worker. Both become a *code key* string, which the code table
 * (shared/code.ts) maps to a small integer id shared by all threads.
 *
 * A task can also carry a *registry name* (`task('reports/render', fn)`): a
 * name chosen by its author, the same on every machine that runs the same
 * code, which is how `spindle/bullmq` finds a task on another machine (a
 * module's `file://` URL differs between machines). Such a task is still a
 * module task locally: its module URL is taken from the call site.
 */
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  typeError,
  ERR_NATIVE_FUNCTION,
  ERR_NOT_A_FUNCTION,
  ERR_TASK_CALLER,
  ERR_TASK_NAME,
  ERR_TASK_REGISTRY_NAME,
  ERR_TASK_REGISTRY_TWICE,
  ERR_TASK_TWICE,
  ERR_TASK_URL,
} from './errors.js';

/** A function that can be spawned: it takes arguments `A` and returns `R` (or a promise of it). */
export type TaskFn<A extends unknown[] = any[], R = unknown> = (...args: A) => R;

/** The brand that tells a {@link Task} from a plain function in types (no run-time value). */
declare const taskBrand: unique symbol;

/**
 * A task defined in a module with `task()`. It is still the plain function —
 * call it directly to run it on the current thread — and `spawn` runs it on
 * the runtime.
 */
export type Task<A extends unknown[] = any[], R = unknown> = ((...args: A) => R) & {
  /** Type-only brand: this function was defined with `task()`. */
  readonly [taskBrand]: true;
};

const KEY = Symbol.for('spindle.taskKey');
const NAME = Symbol.for('spindle.taskRegistryName');
type Keyed = { [KEY]?: string; [NAME]?: string };

/**
 * The registry of module tasks in this thread, on `globalThis` so that two
 * copies of this module (say, a bundled one and an installed one) still agree.
 */
const registry: Map<string, Function> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('spindle.taskRegistry')
] ??= new Map()) as Map<string, Function>;

/**
 * Registry names (`task('reports/render', fn)`) to their module keys, per
 * thread, on `globalThis` for the same reason as the registry.
 */
const registryNames: Map<string, string> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('spindle.taskRegistryNames')
] ??= new Map()) as Map<string, string>;

export const moduleKey = (url: string, name: string): string => `m${url}\n${name}`;

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;
/** What a registry name may look like: path-like segments, no scheme, no spaces. */
const REGISTRY_NAME = /^[A-Za-z0-9_@][A-Za-z0-9_@.\/#+-]{0,199}$/;
/** How many unnamed tasks each module URL has defined in this thread (their names are ordinals). */
const unnamed: Map<string, number> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('spindle.taskOrdinals')
] ??= new Map()) as Map<string, number>;

/**
 * Defines a task in a module. Call it at the module's top level, so that every
 * worker registers the same task when it imports the module. Either with the
 * module's own URL (the task is named by `fn.name`, or by the name given):
 *
 * ```ts
 * export const fib = task(import.meta.url, function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2);
 * });
 * ```
 *
 * or with a *registry name*, a name of your choosing that is the same on every
 * machine running the same code (`spindle/bullmq` sends tasks to other
 * machines by it). Registry names are unique within a process; they look like
 * paths (`reports/render`, `@acme/img#resize`: letters, digits and `_ @ . / # + -`,
 * no `:`). The module is found from the call site:
 *
 * ```ts
 * export const render = task('reports/render', async function render(id: string) { ... });
 * ```
 *
 * In a CommonJS module pass `__filename` (an absolute path is taken as a file URL).
 *
 * The task is named by `name`, else by `fn.name`, else by its ordinal among the
 * module's unnamed tasks — every thread evaluates the module the same way, so
 * the names agree even when a minifier renames or drops function names. Two
 * different functions under one name in one module get `name~2`, `name~3`, …
 * in definition order (a bundle puts many modules under one URL); the same
 * function source defined again (the module evaluated again: vitest, HMR)
 * replaces the earlier one.
 *
 * @param moduleUrl - the defining module's URL: `import.meta.url` (or `__filename` in CommonJS)
 * @param fn - the task's code; it stays a plain function you can call directly
 * @returns `fn` itself, typed as a {@link Task}
 */
export function task<A extends unknown[], R>(moduleUrl: string, fn: (...args: A) => R): Task<A, R>;
/**
 * Defines a task with an explicit name (see the other overload).
 *
 * @param moduleUrl - the defining module's URL: `import.meta.url` (or `__filename` in CommonJS)
 * @param name - the task's name, unique within the module
 * @param fn - the task's code
 */
export function task<A extends unknown[], R>(moduleUrl: string, name: string, fn: (...args: A) => R): Task<A, R>;
export function task(moduleUrl: unknown, nameOrFn: unknown, maybeFn?: unknown): Task {
  if (
    typeof moduleUrl === 'string' &&
    !HAS_SCHEME.test(moduleUrl) &&
    !isAbsolute(moduleUrl) &&
    typeof nameOrFn === 'function' &&
    maybeFn === undefined
  ) {
    return registryTask(moduleUrl, nameOrFn);
  }
  const url = taskModuleUrl(moduleUrl);
  const fn = (typeof nameOrFn === 'function' ? nameOrFn : maybeFn) as Function;
  if (typeof fn !== 'function') throw typeError(ERR_NOT_A_FUNCTION(fn));
  const explicit = typeof nameOrFn === 'string';
  if (explicit && nameOrFn === '') throw typeError(ERR_TASK_NAME);
  let name = explicit ? (nameOrFn as string) : fn.name;
  if (typeof name !== 'string' || name === '') {
    const n = unnamed.get(url) ?? 0;
    unnamed.set(url, n + 1);
    name = `#${n}`;
  }
  return register(url, name, fn, explicit);
}

/**
 * Registers `fn` under `name` in module `url`. Two different functions under one
 * implicit name get `name~2`, `name~3`, … in definition order (a bundle puts many
 * modules under one URL); an explicit name defined twice throws. The same source
 * defined again (the module evaluated again: vitest, HMR) replaces the earlier one.
 */
function register(url: string, name: string, fn: Function, explicit: boolean): Task {
  let key = moduleKey(url, name);
  const src = Function.prototype.toString.call(fn);
  for (let k = 2; ; k++) {
    const prev = registry.get(key);
    if (prev === undefined || prev === fn || Function.prototype.toString.call(prev) === src) break;
    if (explicit) throw typeError(ERR_TASK_TWICE(url, name));
    key = moduleKey(url, `${name}~${k}`);
  }
  registry.set(key, fn);
  (fn as Keyed)[KEY] = key;
  return fn as Task;
}

/** `task('reports/render', fn)`: a module task under a registry name, its module taken from the call site. */
function registryTask(name: string, fn: Function): Task {
  if (!REGISTRY_NAME.test(name)) throw typeError(ERR_TASK_REGISTRY_NAME(name));
  const url = callerUrl();
  if (url === undefined) throw typeError(ERR_TASK_CALLER(name));
  const key = moduleKey(url, name);
  const prevKey = registryNames.get(name);
  if (prevKey !== undefined && prevKey !== key) {
    throw typeError(ERR_TASK_REGISTRY_TWICE(name, parseModuleKey(prevKey).url, url));
  }
  const t = register(url, name, fn, true);
  registryNames.set(name, key);
  (fn as Keyed)[NAME] = name;
  return t;
}

/** The URL of the module that called `task()`, from V8's structured stack trace. */
function callerUrl(): string | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 2;
    Error.prepareStackTrace = (_e, cs) => cs;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, task);
    sites = (holder.stack as NodeJS.CallSite[] | undefined) ?? [];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  const file = sites[0]?.getFileName();
  if (typeof file !== 'string' || file === '') return undefined;
  if (file.startsWith('file:')) return file;
  if (file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file)) return pathToFileURL(file).href;
  return undefined;
}

/** The registry name of a task defined with `task('name', fn)`, if it has one. */
export function registryNameOf(fn: unknown): string | undefined {
  return typeof fn === 'function' ? (fn as Keyed)[NAME] : undefined;
}

/** The module key of a task defined with `task()` (registry name or module URL), if `fn` is one. */
export function moduleKeyOf(fn: unknown): string | undefined {
  const key = typeof fn === 'function' ? (fn as Keyed)[KEY] : undefined;
  return key !== undefined && key.startsWith('m') ? key : undefined;
}

/** Every module task registered in this thread so far: its key, registry name (if any) and function. */
export function registeredTasks(): { key: string; name: string | undefined; fn: Function }[] {
  const out: { key: string; name: string | undefined; fn: Function }[] = [];
  for (const [key, fn] of registry) out.push({ key, name: (fn as Keyed)[NAME], fn });
  return out;
}

/** The file path of a `file:` module URL, or undefined for other URLs. */
export function modulePath(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

/** A module URL as task() takes it: any URL, or an absolute file path (CommonJS `__filename`). */
function taskModuleUrl(u: unknown): string {
  if (typeof u === 'string') {
    if (/^[a-z][a-z0-9+.-]+:/i.test(u)) return u; // a URL (two letters at least: not a Windows drive)
    if (isAbsolute(u)) return pathToFileURL(u).href;
  }
  throw typeError(ERR_TASK_URL(u));
}

/** The registered module task for a key, if its module has been imported in this thread. */
export function lookupTask(key: string): Function | undefined {
  return registry.get(key);
}

/**
 * The code key of something passed to `spawn`: a module task's key, or the
 * source of an inline function. Throws TypeError for what cannot be shipped.
 */
export function codeKeyOf(fn: unknown): string {
  if (typeof fn !== 'function') throw typeError(ERR_NOT_A_FUNCTION(fn));
  const key = (fn as Keyed)[KEY];
  if (key !== undefined) return key;
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) throw typeError(ERR_NATIVE_FUNCTION(fn.name));
  const k = `s${src}`;
  (fn as Keyed)[KEY] = k;
  return k;
}

/**
 * The code key of `map(fn)`'s chunk tasks: `M` and `fn`'s own code key. A
 * worker resolves it (workers/modules.ts) to a function of `(items, start)`
 * that applies `fn` to each item — through the same cache, and the same
 * wait for `fn`'s module, as any task. Throws TypeError as `codeKeyOf`.
 */
export function mapKeyOf(fn: unknown): string {
  return `M${codeKeyOf(fn)}`;
}

/** Gives `stub` the code key `key`: `codeKeyOf(stub)` returns it, and spawning `stub` runs the code `key` names. */
export function withCodeKey<F extends Function>(stub: F, key: string): F {
  (stub as Keyed)[KEY] = key;
  return stub;
}

/** Splits a module key into its URL and task name. */
export function parseModuleKey(key: string): { url: string; name: string } {
  const nl = key.indexOf('\n');
  return { url: key.slice(1, nl), name: key.slice(nl + 1) };
}

/**
 * Compiles an inline function's source in this thread. Method shorthand
 * (`foo(x) { ... }`) is accepted too.
 */
export function compileInline(src: string): Function {
  try {
    return new Function(`return (${src});`)() as Function;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const holder = new Function(`return ({ ${src} });`)() as Record<string, Function>;
    return holder[Object.keys(holder)[0]!]!;
  }
}
