// The public API's types guide: spawn checks its arguments against the task's
// parameters and infers the result; channel ends, JoinSet and the sync
// primitives carry their element types; options are typed. The checks run at
// compile time (`npm test` builds with tsc first: a line below that stops being
// an error fails the build through its @ts-expect-error); the test only makes
// sure the module was compiled and loaded.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  JoinError,
  JoinSet,
  Mutex,
  Runtime,
  Semaphore,
  mpsc,
  oneshot,
  spawn,
  spawnWith,
  watch,
  type JoinHandle,
  type SemaphorePermit,
} from '../src/index.js';
import * as t from './fixtures/tasks.js';

/** Never called: its body is what the compiler checks. */
export async function typeChecks(rt: Runtime): Promise<void> {
  // spawn: arguments checked against the task's parameters, the result inferred (a promise's value, awaited).
  expectTypeOf(rt.spawn(t.add, 1, 2)).toEqualTypeOf<JoinHandle<number>>();
  expectTypeOf(spawn(t.sleepThen, 5, 'x')).toEqualTypeOf<JoinHandle<string>>();
  expectTypeOf(await rt.spawn(t.add, 1, 2)).toEqualTypeOf<number>();
  expectTypeOf(await spawn((a: string, n: number) => a.repeat(n), 'ab', 2)).toEqualTypeOf<string>();
  // @ts-expect-error: a string where the task takes a number
  rt.spawn(t.add, 1, '2');
  // @ts-expect-error: a missing argument
  rt.spawn(t.add, 1);
  // @ts-expect-error: one argument too many
  spawn(t.add, 1, 2, 3);
  // @ts-expect-error: the result is a number, not a string
  const s: string = await rt.spawn(t.add, 1, 2);
  // spawnWith: typed options, then the same checks.
  expectTypeOf(spawnWith({ timeout: 100, signal: new AbortController().signal }, t.add, 1, 2)).toEqualTypeOf<JoinHandle<number>>();
  // @ts-expect-error: timeout is a number of milliseconds
  spawnWith({ timeout: '100' }, t.add, 1, 2);
  // A handle is a promise: Promise.all keeps the element types; a failure is a JoinError.
  const [x, y] = await Promise.all([rt.spawn(t.add, 1, 2), rt.spawn(t.sleepThen, 1, 'v')]);
  expectTypeOf(x).toEqualTypeOf<number>();
  expectTypeOf(y).toEqualTypeOf<string>();
  expectTypeOf<JoinError['isPanic']>().returns.toEqualTypeOf<boolean>();

  // Channels carry their element type through every end.
  const [tx, rx] = mpsc.channel<number>(8);
  expectTypeOf(rx.recv()).toEqualTypeOf<Promise<number | undefined>>();
  // @ts-expect-error: a string into a channel of numbers
  await tx.send('1');
  const [otx, orx] = oneshot<{ id: number }>();
  otx.send({ id: 1 });
  expectTypeOf(await orx).toEqualTypeOf<{ id: number }>();
  const [wtx, wrx] = watch('idle');
  wtx.send('busy');
  expectTypeOf(wrx.borrow()).toEqualTypeOf<string>();

  // JoinSet: its element type is the tasks' result type.
  const set = new JoinSet<number>({ runtime: rt });
  set.spawn(t.add, 1, 2);
  expectTypeOf(await set.joinNext()).toEqualTypeOf<number | undefined>();
  // @ts-expect-error: a task returning a string into a set of numbers
  set.spawn(t.sleepThen, 1, 'v');

  // Sync primitives: a Mutex guard's value is typed; Semaphore.acquire takes a count, options, or both.
  const m = new Mutex({ hits: 0 });
  const g = await m.lock();
  expectTypeOf(g.value).toEqualTypeOf<{ hits: number }>();
  const sem = new Semaphore(2);
  expectTypeOf(sem.acquire()).toEqualTypeOf<Promise<SemaphorePermit>>();
  expectTypeOf(sem.acquire({ signal: AbortSignal.timeout(10) })).toEqualTypeOf<Promise<SemaphorePermit>>();
  expectTypeOf(sem.acquire(2, { signal: AbortSignal.timeout(10) })).toEqualTypeOf<Promise<SemaphorePermit>>();
  // @ts-expect-error: the count is a number
  sem.acquire('2');
  void [s, tx, rx, g];
}

describe('types', () => {
  it('the compile-time checks of the public API are in the build', () => {
    expect(typeof typeChecks).toBe('function');
  });
});
