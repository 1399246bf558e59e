/**
 * Portable task names: how a task is found on another machine.
 *
 * - A task defined with a registry name (`task('reports/render', fn)`) is sent
 *   under that name. This is the recommended form: it survives moving files
 *   and changing the build layout.
 * - A task defined with its module URL (`task(import.meta.url, fn)`) is sent
 *   under a name derived from the module's path relative to its package root
 *   (the nearest directory upward with a package.json) and its task name:
 *   `dist/tasks.js#fib`. It is the same on every machine that runs the same
 *   build from the same layout.
 * - Inline functions have no portable name and cannot be sent.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { ErrorCode, typeError } from '../errors.js';
import { moduleKeyOf, modulePath, parseModuleKey, registeredTasks, registryNameOf } from '../task.js';

const roots = new Map<string, string | null>();

/** The nearest directory at or above `dir` that holds a package.json (cached). */
function packageRoot(dir: string): string | null {
  const hit = roots.get(dir);
  if (hit !== undefined) return hit;
  let root: string | null;
  if (existsSync(join(dir, 'package.json'))) root = dir;
  else {
    const up = dirname(dir);
    root = up === dir ? null : packageRoot(up);
  }
  roots.set(dir, root);
  return root;
}

/** The derived portable name of a module task key (`dist/tasks.js#fib`), or undefined where there is none. */
export function derivedName(key: string): string | undefined {
  const { url, name } = parseModuleKey(key);
  const path = modulePath(url);
  if (path === undefined) return undefined;
  const root = packageRoot(dirname(path));
  if (root === null) return undefined;
  return `${relative(root, path).split(sep).join('/')}#${name}`;
}

const cache = new WeakMap<Function, string>();

/**
 * The portable name `spawn` sends for `fn`. Throws a `TypeError` for what has
 * none (inline functions, tasks of modules that are not files in a package).
 */
export function portableNameOf(fn: unknown): string {
  if (typeof fn !== 'function') {
    throw typeError(`spindle/bullmq: spawn() takes a task defined with task('name', fn) or task(import.meta.url, fn), got ${fn === null ? 'null' : typeof fn}`);
  }
  const hit = cache.get(fn);
  if (hit !== undefined) return hit;
  const name = registryNameOf(fn) ?? (moduleKeyOf(fn) !== undefined ? derivedName(moduleKeyOf(fn)!) : undefined);
  if (name === undefined) {
    throw typeError(
      `spindle/bullmq: ${fn.name || 'this function'} has no portable name, so another machine cannot find it. ` +
        (moduleKeyOf(fn) === undefined
          ? 'Inline functions run only on this machine: define the task in a module with task(\'some/name\', fn).'
          : 'Its module is not a file inside a package: give it a registry name with task(\'some/name\', fn).'),
      ErrorCode.NOT_SENDABLE,
    );
  }
  cache.set(fn, name);
  return name;
}

/** The machine side: portable name → task function, over the tasks registered in this thread. */
export class TaskIndex {
  #byName = new Map<string, Function>();
  #indexed = -1;

  /** The task registered under `name` (registry or derived), or undefined. */
  find(name: string): Function | undefined {
    const fn = this.#byName.get(name);
    if (fn !== undefined) return fn;
    const all = registeredTasks();
    if (all.length === this.#indexed) return undefined;
    this.#rebuild(all);
    return this.#byName.get(name);
  }

  /** The names this machine knows, sorted. */
  names(): string[] {
    this.#rebuild(registeredTasks());
    return [...this.#byName.keys()].sort();
  }

  #rebuild(all: ReturnType<typeof registeredTasks>): void {
    this.#byName.clear();
    for (const { key, name, fn } of all) {
      if (name !== undefined) this.#byName.set(name, fn);
      else {
        const d = derivedName(key);
        if (d !== undefined && !this.#byName.has(d)) this.#byName.set(d, fn);
      }
    }
    this.#indexed = all.length;
  }
}
