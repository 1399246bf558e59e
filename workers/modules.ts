/**
 * Code resolution: from a code id (code.ts) to the function to call —
 * compiling an inline task's source once per worker, or importing a task's
 * module on first use and finding the task in its registry; for `map()`'s
 * chunk tasks (key `M` + a task's key), a function that runs that task on
 * each item of a chunk (src/task/map-chunk.ts).
 */
import { ERR_CAPTURE, ERR_IMPORT, ERR_NO_SUCH_TASK } from '../src/errors.js';
import { compileInline, lookupTask, parseModuleKey } from '../src/task.js';
import type { CodeTable } from '../src/shared/code.js';
import { chunkRunner } from '../src/task/map-chunk.js';
import { importTaskModule } from '../src/worker-loaders.js';

export class Modules {
  /** Functions by code id; a promise while the module is being imported. */
  private readonly fns: (Function | Promise<Function> | undefined)[] = [];
  private readonly inline = new WeakSet<Function>();

  constructor(private readonly codes: CodeTable) {}

  /** The function, or a promise of it while its module loads (rejects if the import fails). */
  get(code: number): Function | Promise<Function> {
    return this.fns[code] ?? this.resolve(code);
  }

  private resolve(code: number): Function | Promise<Function> {
    const found = this.fromKey(this.codes.keyOf(code));
    if (typeof found === 'function') return (this.fns[code] = found);
    const p = found.then((fn) => (this.fns[code] = fn));
    // A failed import is retried by the next task that needs it.
    p.catch(() => {
      this.fns[code] = undefined;
    });
    return (this.fns[code] = p);
  }

  /** The function a code key names (task.ts): compiled, found in the registry, or a promise while its module loads. */
  private fromKey(key: string): Function | Promise<Function> {
    if (key[0] === 'M') {
      // map()'s chunk task over the task `key.slice(1)` (task.ts mapKeyOf): held, like any task, until that task's module loads.
      const inner = this.fromKey(key.slice(1));
      const explain = (fn: Function, e: unknown): unknown => this.explain(fn, e);
      return typeof inner === 'function' ? chunkRunner(inner, explain) : inner.then((fn) => chunkRunner(fn, explain));
    }
    if (key[0] === 's') {
      const fn = compileInline(key.slice(1));
      this.inline.add(fn);
      return fn;
    }
    const known = lookupTask(key);
    if (known !== undefined) return known;
    const { url, name } = parseModuleKey(key);
    // A TypeScript loader (tsx) is registered first where needed: worker-loaders.ts.
    return importTaskModule(url).then(
      () => {
        const fn = lookupTask(key);
        if (fn === undefined) throw new Error(ERR_NO_SUCH_TASK(url, name));
        return fn;
      },
      (e: Error) => {
        throw new Error(ERR_IMPORT(url, name, e?.message ?? String(e)), { cause: e });
      },
    );
  }

  /** An inline task that reads a variable of its spawner fails with a ReferenceError: say why ('static bound). */
  explain(fn: Function, e: unknown): unknown {
    if (e instanceof ReferenceError && this.inline.has(fn)) {
      const better = new ReferenceError(ERR_CAPTURE(e.message), { cause: e });
      better.stack = `ReferenceError: ${better.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
      return better;
    }
    return e;
  }
}
