/**
 * spindle: a work-stealing task runtime for Node.js worker threads.
 *
 * API (stub while the runtime is being written; the signatures are final):
 *   task(import.meta.url, fn) / task(import.meta.url, 'name', fn)  -> Task<A, R>
 *   spawn(taskOrInlineFn, ...args)                                   -> JoinHandle<R>
 *   new Runtime({ workers }) : spawn, run(main), shutdown(), metrics(), [Symbol.asyncDispose]
 *   JoinHandle<T>: PromiseLike<T> + abort(), isFinished(), id
 *   JoinError: isPanic(), isCancelled(), intoPanic(), tryIntoPanic(), id
 *   yieldNow(): Promise<void>
 */
export type TaskFn<A extends unknown[] = any[], R = unknown> = (...args: A) => R;
export type Task<A extends unknown[] = any[], R = unknown> = TaskFn<A, R> & { readonly __spindleTask: true };
export declare function task<A extends unknown[], R>(moduleUrl: string, fn: (...args: A) => R): Task<A, R>;
export declare function spawn<A extends unknown[], R>(t: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
export declare class JoinHandle<T> implements PromiseLike<T> {
  readonly id: number;
  abort(): void;
  isFinished(): boolean;
  then<A = T, B = never>(f?: ((v: T) => A | PromiseLike<A>) | null, r?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B>;
}
export declare class Runtime {
  constructor(opts?: { workers?: number });
  spawn<A extends unknown[], R>(t: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
  run<T>(main: () => T | Promise<T>): Promise<T>;
  shutdown(): Promise<void>;
}
