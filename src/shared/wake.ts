/**
 * Sleeping on a shared word without blocking (`Atomics.waitAsync`), and
 * waking its sleepers: those of other threads through the futex
 * (`Atomics.notify`), and those of this thread at once.
 *
 * Why both: V8 resolves a `waitAsync` promise by posting a task to the
 * sleeper's event loop, even when the `notify` comes from the same thread, so
 * a hand-off between two tasks of one thread (a task sending to another task
 * on its worker, a `Notify` between two tasks, a lock passed on) waited
 * 8-10 µs for an event-loop turn, where the hand-off itself costs well under
 * a microsecond. So every async sleep here also registers in this thread's
 * table, and {@link wake} resolves the sleepers of this thread on that word
 * directly (a promise reaction, in the waker's microtask queue), besides
 * notifying the futex for everyone else.
 *
 * Why no wake-up is lost or doubled in effect: every sleep is one step of a
 * loop that looks at its state again when the sleep ends, so an early or
 * spurious end costs one look; and the table only makes a wake-up come
 * sooner: the futex notify still reaches the same sleeper (its `waitAsync`
 * resolves too, and the sleep ends at whichever comes first). A sleeper the
 * table cannot match (its word reached through another SharedArrayBuffer
 * object than the waker's) is woken as before, by the futex.
 *
 * Who uses it: the channels' and the sync primitives' async waits
 * (channel/wait.ts `sleepAsync`, sync/wait.ts `waitChange`) and every
 * `notify` of the words they sleep on. (The runtime's own parking words,
 * idle.ts and the engine's H_MAIN_WAIT, are woken by other threads only.)
 */

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as {
  waitAsync(i32: Int32Array, idx: number, value: number, timeout?: number): WaitAsyncResult;
}).waitAsync;

/** One async sleep: ended by `end` (from waitAsync, or a flush that finds the word changed) or `local` (a wake on this thread). */
interface Sleep {
  readonly i32: Int32Array;
  readonly idx: number;
  readonly expected: number;
  readonly ms: number;
  readonly end: (v: 'ok' | 'timed-out') => void;
}
type Sleeper = () => void;

/** This thread's async sleepers, by buffer and Int32 index. Private to the thread (module state). */
const table = new WeakMap<ArrayBufferLike, Map<number, Sleeper[]>>();
/** Sleepers in the table: `wake` skips the lookup while there are none. */
let sleeping = 0;

function enter(buffer: ArrayBufferLike, idx: number, s: Sleeper): void {
  let words = table.get(buffer);
  if (words === undefined) table.set(buffer, (words = new Map()));
  const list = words.get(idx);
  if (list === undefined) words.set(idx, [s]);
  else list.push(s);
  sleeping++;
}

function leave(buffer: ArrayBufferLike, idx: number, s: Sleeper): void {
  const words = table.get(buffer);
  const list = words?.get(idx);
  if (list === undefined) return; // already taken by a wake
  const i = list.indexOf(s);
  if (i < 0) return;
  list.splice(i, 1);
  sleeping--;
  if (list.length === 0) words!.delete(idx);
}

/** Sleeps whose futex wait has not started yet: started together by one setImmediate (see sleepOn). */
const unstarted = new Set<Sleep>();
let startScheduled = false;

function startAll(): void {
  startScheduled = false;
  for (const s of unstarted) {
    const r = waitAsync(s.i32, s.idx, s.expected, s.ms);
    if (r.async) void r.value.then(s.end);
    else s.end(r.value === 'timed-out' ? 'timed-out' : 'ok');
  }
  unstarted.clear();
}

// A pending waitAsync does not keep Node alive. A task waiting for a message or a lock is
// pending work, so while any referenced sleep is pending one interval is ref'd.
let refs = 0;
let keepAlive: NodeJS.Timeout | undefined;
/** Keeps the process alive until the matching {@link release} (counted). */
export function hold(): void {
  if (refs++ === 0) {
    keepAlive ??= setInterval(() => {}, 1 << 30);
    keepAlive.ref();
  }
}
/** Ends one {@link hold}. */
export function release(): void {
  if (--refs === 0) keepAlive!.unref();
}

/**
 * Resolves when `i32[idx]` may no longer equal `expected` (a {@link wake}
 * from this thread, a notify from any), or with 'timed-out' after about `ms`;
 * undefined when it already differs (no sleep). `ref`: keep the process alive
 * meanwhile.
 *
 * The futex wait (`waitAsync`) starts at the next event-loop turn (one
 * setImmediate for all the sleeps begun in this one), and not at all for a
 * sleep that a wake from this thread ended first: a ping-pong between two
 * tasks of one thread then makes no `waitAsync`, whose resolution V8 queues
 * as a task per sleep (a chain of hand-offs that never yields to the event
 * loop would pile those up without bound). Nothing is missed meanwhile: every
 * waker changes the word before it notifies, and `waitAsync` returns at once
 * when the word no longer holds `expected`.
 */
export function sleepOn(i32: Int32Array, idx: number, expected: number, ms: number, ref = true): Promise<'ok' | 'timed-out'> | undefined {
  if (Atomics.load(i32, idx) !== expected) return undefined;
  const buffer = i32.buffer;
  if (ref) hold();
  return new Promise((resolve) => {
    let done = false;
    const local = (): void => {
      if (done) return;
      done = true; // (wake took it out of the table)
      unstarted.delete(sleep);
      if (ref) release();
      resolve('ok');
    };
    const sleep: Sleep = {
      i32,
      idx,
      expected,
      ms,
      end: (v) => {
        if (done) return;
        done = true;
        leave(buffer, idx, local);
        if (ref) release();
        resolve(v);
      },
    };
    enter(buffer, idx, local);
    unstarted.add(sleep);
    if (!startScheduled) {
      startScheduled = true;
      setImmediate(startAll);
    }
  });
}

/** Wakes the sleepers on `i32[idx]`: every one of this thread at once, and up to `count` of the others' through the futex. */
export function wake(i32: Int32Array, idx: number, count = Infinity): void {
  Atomics.notify(i32, idx, count);
  if (sleeping === 0) return;
  const words = table.get(i32.buffer);
  const list = words?.get(idx);
  if (list === undefined) return;
  words!.delete(idx);
  sleeping -= list.length;
  for (const s of list) s();
}
