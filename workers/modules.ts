/**
 * Code resolution: from a code id (code.ts) to the function to call —
 * compiling an inline task's source once per worker, or importing a task's
 * module on first use and finding the task in its registry.
 */
import { ERR_CAPTURE, ERR_IMPORT, ERR_NO_SUCH_TASK } from '../src/errors.js';
import { compileInline, lookupTask, parseModuleKey } from '../src/task.js';
import type { CodeTable } from '../src/shared/code.js';
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
    const key = this.codes.keyOf(code);
    if (key[0] === 's') {
      const fn = compileInline(key.slice(1));
      this.inline.add(fn);
      return (this.fns[code] = fn);
    }
    const known = lookupTask(key);
    if (known !== undefined) return (this.fns[code] = known);
    const { url, name } = parseModuleKey(key);
    // A TypeScript loader (tsx) is registered first where needed: worker-loaders.ts.
    const p = importTaskModule(url).then(
      () => {
        const fn = lookupTask(key);
        if (fn === undefined) throw new Error(ERR_NO_SUCH_TASK(url, name));
        return (this.fns[code] = fn);
      },
      (e: Error) => {
        throw new Error(ERR_IMPORT(url, name, e?.message ?? String(e)), { cause: e });
      },
    );
    // A failed import is retried by the next task that needs it.
    p.catch(() => {
      this.fns[code] = undefined;
    });
    return (this.fns[code] = p);
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
