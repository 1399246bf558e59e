/**
 * RwLock: many readers or one writer around a value in the shared heap —
 * Tokio's `RwLock<T>`, writer-preferring: once a writer waits, new readers
 * queue behind it, so a stream of readers cannot starve writers. Layout:
 * RWLOCK_BLOCK below.
 *
 * Every change that can let a sleeper in (last reader out, writer out) does
 * notify-all on STATE; sleepers sleep on the exact STATE they saw, so a change
 * between their look and their sleep is never missed.
 *
 * Death-safety: a LEDGER in the block (holders.ts) counts, per thread, the
 * read locks it holds, whether it holds the write lock, and whether it waits
 * as a writer; each count changes right after the STATE change it mirrors.
 * A waiter whose sleep runs out (POLL_MS) undoes what dead threads held: their
 * reads and waits are taken out of STATE; a dead writer's lock is released
 * POISONED (its value may be half-updated, as for a Mutex): every locker gets
 * a PoisonError until `clearPoison()`.
 */
import { rangeError, typeError } from '../errors.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { HandleStateError, PoisonError } from './errors.js';
import { LEDGER_SLOTS, UNTRACKED, claimEntry, sweepDead } from './holders.js';
import { Guard, type Guarded } from './guard.js';
import { SharedObject, registerObjectKind } from './object.js';
import { SLOT_WORDS, slotFree, slotInit, slotRead, slotWrite } from './slot.js';
import { abortWith, abortedError, assertMayBlock, checkSignal, retryAsync, retryBlocking, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const STATE = 1;
const SLOT = 2;
const LEDGER = SLOT + SLOT_WORDS;
/** A ledger entry (holders.ts): [TAG, READS held, WAITS as a writer, WRITES (1 while it holds the write lock)]. */
const L_READS = 1;
const L_WAITS = 2;
const L_WRITES = 3;
const L_WORDS = 4;
const WORDS = LEDGER + LEDGER_SLOTS * L_WORDS;
const BYTES = WORDS * 4;

export const RWLOCK_BLOCK = wordTable({
  title: 'RwLock block',
  base: 'An `RwLock`\'s heap block (`src/sync/rwlock.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    {
      name: 'STATE',
      at: STATE,
      words: 1,
      meaning: 'bits 0–23 readers holding it; bits 24–29 writers waiting (at most 63); bit 30 a writer holds it; bit 31 POISONED (a writer died holding it)',
      access: 'lockers (CAS), recoverers (CAS) ↔ lockers',
    },
    { name: 'SLOT', at: SLOT, words: SLOT_WORDS, meaning: 'value slot (table above)', access: 'writer → readers, under STATE' },
    {
      name: 'LEDGER',
      at: LEDGER,
      words: LEDGER_SLOTS * L_WORDS,
      meaning: `holders.ts: ${LEDGER_SLOTS} entries of [TAG, READS, WAITS, WRITES]: a thread's tag (0 = free), the read locks it holds, 1 while it waits as a writer, 1 while it holds the write lock`,
      access: 'the thread (CAS a free TAG; add/sub its counts); a recoverer (exchange the counts, CAS TAG back to 0)',
    },
  ],
});

const READERS = 0xffffff;
const WAITING_WRITER = 1 << 24;
const WAITING_MASK = 0x3f << 24;
const WRITER = 1 << 30;
const POISON = 1 << 31;
/** A guard's `held`: HELD_READ or HELD_WRITE, plus 2 × (its ledger entry + 1) (0: untracked). */
const HELD_READ = 0;
const HELD_WRITE = 1;

function poisoned(): PoisonError {
  return new PoisonError(
    'spindle: RwLock poisoned: a thread died while holding its write lock, so the value may be half-updated. ' +
      'Call rwlock.clearPoison() once you have decided the value is usable (then write and repair it), or replace the RwLock.',
  );
}

/** Options for {@link RwLock}. */
export interface RwLockOptions extends SharedOptions {
  /** Fixed size in bytes for the encoded value (0, the default, lets it grow). */
  capacity?: number;
}

/** Shared read access to an {@link RwLock}'s value; `value` is read-only. */
export class RwLockReadGuard<T> extends Guard<T> {
  protected override checkWritable(): void {
    throw typeError('spindle: RwLockReadGuard.value is read-only; take rwlock.write() to change the value');
  }
}
/** Exclusive access to an {@link RwLock}'s value (the {@link Guard} class itself). */
export type RwLockWriteGuard<T> = Guard<T>;
/** The RwLockWriteGuard class, for `instanceof`. */
export const RwLockWriteGuard = Guard;

/**
 * A reader-writer lock around a value in shared memory (writer-preferring).
 *
 * ```ts
 * const config = new RwLock({ level: 1 });
 * { using r = await config.read(); console.log(r.value.level); }
 * { using w = await config.write(); w.value = { level: 2 }; }
 * ```
 */
export class RwLock<T = unknown> extends SharedObject implements Guarded {
  /** Allocates an RwLock holding `value`. */
  constructor(value: T, opts?: RwLockOptions);
  constructor(value: T, opts?: RwLockOptions | Attach) {
    super('RwLock', BYTES, opts, (heap, off) =>
      slotInit(heap, (off >> 2) + SLOT, value, (opts as RwLockOptions | undefined)?.capacity ?? 0, 'new RwLock(value)'),
    );
  }

  /** Int32 index of this thread's ledger entry (claimed once per handle), or UNTRACKED while the ledger is full. */
  #entry = UNTRACKED;

  #myEntry(): number {
    if (this.#entry !== UNTRACKED) return this.#entry;
    return (this.#entry = claimEntry(this.i32, this.w(LEDGER), L_WORDS, this.#onTimeout));
  }

  #tryRead = (s: number): RwLockReadGuard<T> | undefined => {
    if ((s & POISON) !== 0) throw poisoned();
    if ((s & (WRITER | WAITING_MASK)) !== 0 || (s & READERS) === READERS) return undefined;
    const e = this.#myEntry();
    if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + 1) !== s) return undefined;
    // safety: right after the STATE change it mirrors, with no call or back-edge between (holders.ts).
    if (e !== UNTRACKED) Atomics.add(this.i32, e + L_READS, 1);
    return new RwLockReadGuard<T>(this, HELD_READ + 2 * (e + 1));
  };

  #writeGuard(e: number): RwLockWriteGuard<T> {
    return new Guard<T>(this, HELD_WRITE + 2 * (e + 1));
  }

  /** @internal Called by the guards. */
  readValue(): unknown {
    return slotRead(this.heap, this.w(SLOT));
  }
  /** @internal Called by the guards. */
  writeValue(v: unknown): void {
    slotWrite(this.heap, this.w(SLOT), v, 'RwLock guard .value = v');
  }
  /** @internal Called by the guards. */
  release(held: number): void {
    const e = Math.floor(held / 2) - 1;
    if (held % 2 === HELD_WRITE) {
      Atomics.and(this.i32, this.w(STATE), ~WRITER);
      if (e !== UNTRACKED) Atomics.store(this.i32, e + L_WRITES, 0); // safety: right after its STATE change
      wake(this.i32, this.w(STATE));
      return;
    }
    const prev = Atomics.sub(this.i32, this.w(STATE), 1);
    if (e !== UNTRACKED) Atomics.sub(this.i32, e + L_READS, 1); // safety: right after its STATE change
    // Last reader out with a writer waiting: let it in.
    if ((prev & READERS) === 1 && (prev & WAITING_MASK) !== 0) wake(this.i32, this.w(STATE));
  }

  /** Takes the write lock if free (a writer registered as waiting passes `waiting`). */
  #tryWriteFrom(s: number, waiting: boolean): RwLockWriteGuard<T> | undefined {
    if ((s & POISON) !== 0) {
      if (waiting) this.#withdrawWriter();
      throw poisoned();
    }
    if ((s & (WRITER | READERS)) !== 0) return undefined;
    const e = this.#myEntry();
    const next = (waiting ? s - WAITING_WRITER : s) | WRITER;
    if (Atomics.compareExchange(this.i32, this.w(STATE), s, next) !== s) return undefined;
    // safety: right after the STATE change they mirror, with no call or back-edge between.
    if (e !== UNTRACKED) {
      Atomics.store(this.i32, e + L_WRITES, 1);
      if (waiting) Atomics.sub(this.i32, e + L_WAITS, 1);
    }
    return this.#writeGuard(e);
  }

  /** Registers this writer as waiting, so new readers hold back. */
  #announceWriter(): void {
    const e = this.#myEntry();
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & POISON) !== 0) throw poisoned();
      if ((s & WAITING_MASK) === WAITING_MASK) {
        throw rangeError('spindle: RwLock: more than 63 writers waiting at once');
      }
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + WAITING_WRITER) === s) {
        if (e !== UNTRACKED) Atomics.add(this.i32, e + L_WAITS, 1); // safety: right after its STATE change
        return;
      }
    }
  }

  /** Withdraws a writer registered as waiting (it gave up), letting held-back readers in. */
  #withdrawWriter(): void {
    const e = this.#entry;
    Atomics.sub(this.i32, this.w(STATE), WAITING_WRITER);
    if (e !== UNTRACKED) Atomics.sub(this.i32, e + L_WAITS, 1); // safety: right after its STATE change
    wake(this.i32, this.w(STATE));
  }

  /** Undoes what dead threads held (holders.ts): their reads and waits leave STATE; a dead writer's lock is released poisoned. */
  #recover(): void {
    const i32 = this.i32;
    sweepDead(this.heap, i32, this.w(LEDGER), L_WORDS, (e) => {
      const reads = Atomics.exchange(i32, e + L_READS, 0);
      const waits = Atomics.exchange(i32, e + L_WAITS, 0);
      const writes = Atomics.exchange(i32, e + L_WRITES, 0);
      if (reads === 0 && waits === 0 && writes === 0) return;
      for (;;) {
        const s = Atomics.load(i32, this.w(STATE));
        let next = s - reads - waits * WAITING_WRITER;
        if (writes !== 0) next = (next & ~WRITER) | POISON;
        if (Atomics.compareExchange(i32, this.w(STATE), s, next | 0) === s) break;
      }
      wake(i32, this.w(STATE));
    });
  }

  readonly #onTimeout = (): void => this.#recover();

  /** True once a thread died holding the write lock (until {@link clearPoison}). */
  isPoisoned(): boolean {
    this.live('isPoisoned()');
    return (Atomics.load(this.i32, this.w(STATE)) & POISON) !== 0;
  }

  /** Accepts the value as it is after a poisoning: read and write work again. */
  clearPoison(): void {
    this.live('clearPoison()');
    Atomics.and(this.i32, this.w(STATE), ~POISON);
    wake(this.i32, this.w(STATE));
  }

  /** Waits (without blocking the thread) for shared read access; `{ signal }` gives up cleanly. */
  async read(opts?: WaitOptions): Promise<RwLockReadGuard<T>> {
    this.live('read()');
    const signal = checkSignal(opts, 'RwLock.read()');
    const r = retryAsync(this.i32, this.w(STATE), this.#tryRead, signal, abortWith(signal, 'RwLock.read()'), this.#onTimeout);
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until read access is granted. Worker threads only. */
  readSync(): RwLockReadGuard<T> {
    this.live('readSync()');
    return retryBlocking(this.i32, this.w(STATE), 'RwLock.readSync()', this.#tryRead, this.#onTimeout);
  }

  /** Read access if no writer holds or waits for the lock, else null. */
  tryRead(): RwLockReadGuard<T> | null {
    this.live('tryRead()');
    return this.#tryRead(Atomics.load(this.i32, this.w(STATE))) ?? null;
  }

  /**
   * Waits (without blocking the thread) for exclusive write access. A waiting
   * writer holds new readers back; with `{ signal }`, giving up withdraws it.
   */
  async write(opts?: WaitOptions): Promise<RwLockWriteGuard<T>> {
    this.live('write()');
    const signal = checkSignal(opts, 'RwLock.write()');
    const now = this.#tryWriteFrom(Atomics.load(this.i32, this.w(STATE)), false);
    if (now !== undefined) return now;
    this.#announceWriter();
    const aborted = signal && ((): Error => {
      // safety: the attempt that would have taken the lock (and our WAITING
      // count with it) did not succeed, or we would not be here: the count is ours to undo.
      this.#withdrawWriter();
      return abortedError(signal, 'RwLock.write()');
    });
    const r = retryAsync(this.i32, this.w(STATE), (s) => this.#tryWriteFrom(s, true), signal, aborted, this.#onTimeout);
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until write access is granted. Worker threads only. */
  writeSync(): RwLockWriteGuard<T> {
    this.live('writeSync()');
    assertMayBlock('RwLock.writeSync()');
    const now = this.#tryWriteFrom(Atomics.load(this.i32, this.w(STATE)), false);
    if (now !== undefined) return now;
    this.#announceWriter();
    return retryBlocking(this.i32, this.w(STATE), 'RwLock.writeSync()', (s) => this.#tryWriteFrom(s, true), this.#onTimeout);
  }

  /** Write access if nobody holds the lock, else null. */
  tryWrite(): RwLockWriteGuard<T> | null {
    this.live('tryWrite()');
    return this.#tryWriteFrom(Atomics.load(this.i32, this.w(STATE)), false) ?? null;
  }

  protected override releaseContents(): void {
    if ((Atomics.load(this.i32, this.w(STATE)) & (WRITER | READERS)) !== 0) {
      throw new HandleStateError('spindle: RwLock.free(): the lock is held; release every guard first');
    }
    slotFree(this.heap, this.w(SLOT));
  }
}

registerObjectKind('RwLock', (at) => new RwLock(undefined, at as never));
