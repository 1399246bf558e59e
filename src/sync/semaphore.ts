/**
 * Semaphore: a shared count of permits — Tokio's `Semaphore`. Acquire waits
 * until enough permits are free; a permit returns them when released or when
 * its `using` block ends; `close()` fails every waiter and future acquire.
 * Layout: SEMAPHORE_BLOCK below.
 *
 * Every change of STATE is a CAS from a value whose permit count was checked
 * (or an `or` of CLOSED): an add that overflowed the permit bits would carry
 * into CLOSED, and an add-then-undo makes that carry visible to every other
 * thread for a moment (a spurious SemaphoreClosedError) — or, with a close()
 * in between, loses the close. So addPermits checks before it adds.
 *
 * Not FIFO: a waiter takes permits when it sees enough on waking, so a big
 * `acquire(n)` can be overtaken by small ones.
 *
 * Death-safety: a LEDGER in the block (holders.ts) counts, per thread, the
 * permits that thread holds. An acquire records its permits right after the
 * CAS that takes them, and a release takes them off right after the CAS that
 * gives them back, so the ledger never disagrees with STATE from a
 * recoverer's view. A waiter whose sleep runs out (POLL_MS) gives back what
 * dead holders held. A thread that finds the ledger full holds its permits
 * untracked: they work as before, but are lost if it dies.
 */
import { rangeError } from '../errors.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { NotHeldError, SemaphoreClosedError } from './errors.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortWith, checkSignal, retryAsync, retryBlocking, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';
import { LEDGER_SLOTS, UNTRACKED, claimEntry, sweepDead } from './holders.js';

const KIND = 0;
const STATE = 1;
const LEDGER = 2;
/** A ledger entry (holders.ts): the holder's thread tag (0 = free), and the permits it holds. */
const L_HELD = 1;
const L_WORDS = 2;
const WORDS = LEDGER + LEDGER_SLOTS * L_WORDS;
const BYTES = WORDS * 4;
const PERMITS = (1 << 30) - 1;
const CLOSED = 1 << 30;
/** Most permits a Semaphore can hold. */
export const MAX_PERMITS = PERMITS;

export const SEMAPHORE_BLOCK = wordTable({
  title: 'Semaphore block',
  base: 'A `Semaphore`\'s heap block (`src/sync/semaphore.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'STATE', at: STATE, words: 1, meaning: 'bits 0–29 available permits; bit 30 CLOSED', access: 'everyone (CAS; `or` to close) ↔ everyone' },
    {
      name: 'LEDGER',
      at: LEDGER,
      words: LEDGER_SLOTS * L_WORDS,
      meaning: `holders.ts: ${LEDGER_SLOTS} entries of [TAG, HELD]: a holder thread's tag (0 = free) and the permits it holds now`,
      access: 'the holder (CAS a free TAG, add/sub HELD); a recoverer (exchange HELD, CAS TAG back to 0)',
    },
  ],
});

/** Gives back the permits of a registered permit that was collected unreleased (see guard.ts: the same net). */
const lost = new FinalizationRegistry<{ sem: Semaphore; n: number; ledger: number }>(({ sem, n, ledger }) => {
  try {
    sem._give(n, ledger);
  } catch {
    // Freed or full meanwhile: nothing to give back to.
  }
});

/** Permits taken from a {@link Semaphore}; `release()` (or `using`) gives them back, once. */
export class SemaphorePermit implements Disposable {
  readonly #sem: Semaphore;
  /** How many permits this holds. */
  readonly permits: number;
  /** Int32 index of this thread's ledger HELD word, or UNTRACKED. */
  readonly #ledger: number;
  #held = true;
  #tracked = false;

  /** @internal Made by Semaphore. */
  constructor(sem: Semaphore, permits: number, ledger: number) {
    this.#sem = sem;
    this.permits = permits;
    this.#ledger = ledger;
  }

  /** Returns the permits. @throws NotHeldError when already released or forgotten. */
  release(): void {
    if (!this.#held) throw new NotHeldError('spindle: SemaphorePermit.release(): these permits were already released (or forgotten)');
    this.#held = false;
    if (this.#tracked) lost.unregister(this);
    this.#sem._give(this.permits, this.#ledger);
  }

  /** Keeps the permits taken for good (the semaphore's capacity shrinks; a death of this thread does not return them). */
  forget(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#tracked) lost.unregister(this);
    this.#sem._forget(this.permits, this.#ledger);
  }

  /** @internal A permit handed out after a wait: if nobody can reach it any more, collection gives it back. */
  _track(): this {
    this.#tracked = true;
    lost.register(this, { sem: this.#sem, n: this.permits, ledger: this.#ledger }, this);
    return this;
  }

  /** Returns the permits at the end of a `using` block. */
  [Symbol.dispose](): void {
    if (this.#held) this.release();
  }
}

/**
 * A counting semaphore in shared memory, to bound concurrency across threads.
 *
 * ```ts
 * const slots = new Semaphore(3);
 * { using _p = await slots.acquire(); await work(); } // at most 3 at once, in any thread
 * ```
 */
export class Semaphore extends SharedObject {
  /** Allocates a Semaphore with `permits` available. */
  constructor(permits: number, opts?: SharedOptions);
  constructor(permits: number, opts?: SharedOptions | Attach) {
    super('Semaphore', BYTES, opts, (heap, off) => {
      checkCount(permits, 'new Semaphore(permits)', 0);
      Atomics.store(heap.i32For(off + BYTES), (off >> 2) + STATE, permits);
    });
  }

  /** Int32 index of this thread's HELD word (its ledger entry, claimed once per handle), or UNTRACKED while the ledger is full. */
  #held = UNTRACKED;

  #heldWord(): number {
    if (this.#held !== UNTRACKED) return this.#held;
    const e = claimEntry(this.i32, this.w(LEDGER), L_WORDS, this.#onTimeout);
    return e === UNTRACKED ? UNTRACKED : (this.#held = e + L_HELD);
  }

  #take(n: number): (s: number) => SemaphorePermit | undefined {
    return (s) => {
      if ((s & CLOSED) !== 0) throw closedError();
      if ((s & PERMITS) < n) return undefined;
      const held = this.#heldWord();
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s - n) !== s) return undefined;
      // safety: right after the CAS, with no call or back-edge between: the ledger counts these
      // permits whenever STATE lacks them.
      if (held !== UNTRACKED) Atomics.add(this.i32, held, n);
      return new SemaphorePermit(this, n, held);
    };
  }

  /** Gives back the permits that holders which died still held (holders.ts). */
  #recover(): void {
    sweepDead(this.heap, this.i32, this.w(LEDGER), L_WORDS, (e) => {
      const n = Atomics.exchange(this.i32, e + L_HELD, 0);
      if (n > 0) this.#addBack(n);
    });
  }

  readonly #onTimeout = (): void => this.#recover();

  /** Adds `n` permits to STATE (at most up to the limit: they were taken from it) and wakes waiters. */
  #addBack(n: number): void {
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      const next = (s & CLOSED) | Math.min(PERMITS, (s & PERMITS) + n);
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, next) === s) break;
    }
    wake(this.i32, this.w(STATE));
  }

  /** @internal A permit's release: its `n` permits back, off this thread's ledger (`ledger`: its HELD word or UNTRACKED). */
  _give(n: number, ledger: number): void {
    this.live('release()');
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & PERMITS) + n > PERMITS) {
        throw rangeError(`spindle: SemaphorePermit.release(): more than ${PERMITS} permits in total (${s & PERMITS} available)`);
      }
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + n) === s) {
        // safety: right after the CAS, as in #take.
        if (ledger !== UNTRACKED) Atomics.sub(this.i32, ledger, n);
        break;
      }
    }
    wake(this.i32, this.w(STATE));
  }

  /** @internal A permit forgotten: its permits leave circulation, and this thread's ledger. */
  _forget(n: number, ledger: number): void {
    if (ledger !== UNTRACKED) Atomics.sub(this.i32, ledger, n);
  }

  /**
   * Waits (without blocking the thread) for `n` permits (default 1);
   * `{ signal }` gives up cleanly (a waiter holds nothing): `acquire({ signal })`
   * or `acquire(n, { signal })`. @throws SemaphoreClosedError if closed, now or while waiting.
   */
  acquire(opts?: WaitOptions): Promise<SemaphorePermit>;
  acquire(n: number, opts?: WaitOptions): Promise<SemaphorePermit>;
  async acquire(nOrOpts: number | WaitOptions = 1, opts?: WaitOptions): Promise<SemaphorePermit> {
    this.live('acquire()');
    let n = nOrOpts;
    if (typeof n === 'object' && n !== null && opts === undefined) {
      opts = n;
      n = 1;
    }
    checkCount(n as number, 'Semaphore.acquire(n)', 1);
    const signal = checkSignal(opts, 'Semaphore.acquire()');
    const r = retryAsync(this.i32, this.w(STATE), this.#take(n as number), signal, abortWith(signal, 'Semaphore.acquire()'), this.#onTimeout);
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until `n` permits are free. Worker threads only. */
  acquireSync(n = 1): SemaphorePermit {
    this.live('acquireSync()');
    checkCount(n, 'Semaphore.acquireSync(n)', 1);
    return retryBlocking(this.i32, this.w(STATE), 'Semaphore.acquireSync()', this.#take(n), this.#onTimeout);
  }

  /** `n` permits if free right now, else null. @throws SemaphoreClosedError if closed. */
  tryAcquire(n = 1): SemaphorePermit | null {
    this.live('tryAcquire()');
    checkCount(n, 'Semaphore.tryAcquire(n)', 1);
    const take = this.#take(n);
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & PERMITS) < n && (s & CLOSED) === 0) return null;
      const p = take(s);
      if (p !== undefined) return p;
    }
  }

  /** Adds `n` permits (what a permit's release does) and wakes waiters. */
  addPermits(n: number): void {
    this.live('addPermits()');
    checkCount(n, 'Semaphore.addPermits(n)', 0);
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & PERMITS) + n > PERMITS) {
        throw rangeError(`spindle: Semaphore.addPermits(${n}): more than ${PERMITS} permits in total (${s & PERMITS} available)`);
      }
      // safety: checked before adding, so the sum never carries into CLOSED; the
      // CAS fails if a close() (or anyone) changed STATE since we looked.
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + n) === s) break;
    }
    wake(this.i32, this.w(STATE));
  }

  /** Permits free right now. */
  availablePermits(): number {
    this.live('availablePermits()');
    return Atomics.load(this.i32, this.w(STATE)) & PERMITS;
  }

  /** Closes the semaphore: every waiting and future acquire throws {@link SemaphoreClosedError}. */
  close(): void {
    this.live('close()');
    Atomics.or(this.i32, this.w(STATE), CLOSED);
    wake(this.i32, this.w(STATE));
  }

  /** True once {@link close} was called. */
  isClosed(): boolean {
    this.live('isClosed()');
    return (Atomics.load(this.i32, this.w(STATE)) & CLOSED) !== 0;
  }
}

function checkCount(n: number, what: string, min: number): void {
  if (!Number.isInteger(n) || n < min || n > PERMITS) {
    throw rangeError(`spindle: ${what}: n must be an integer in [${min}, ${PERMITS}] (got ${n})`);
  }
}

function closedError(): SemaphoreClosedError {
  return new SemaphoreClosedError('spindle: Semaphore is closed; no permits can be acquired any more');
}

registerObjectKind('Semaphore', (at) => new Semaphore(0, at as never));
