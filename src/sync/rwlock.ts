/**
 * RwLock: many readers or one writer around a value in the shared heap —
 * Tokio's `RwLock<T>`, writer-preferring: once a writer waits, new readers
 * queue behind it, so a stream of readers cannot starve writers. Layout:
 * RWLOCK_BLOCK below.
 *
 * Every change that can let a sleeper in (last reader out, writer out) does
 * notify-all on STATE; sleepers sleep on the exact STATE they saw, so a change
 * between their look and their sleep is never missed. A thread dying while it
 * holds an RwLock is not recovered (use a Mutex where that matters).
 */
import { rangeError, typeError } from '../errors.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { HandleStateError } from './errors.js';
import { Guard, type Guarded } from './guard.js';
import { SharedObject, registerObjectKind } from './object.js';
import { SLOT_WORDS, slotFree, slotInit, slotRead, slotWrite } from './slot.js';
import { abortWith, abortedError, assertMayBlock, checkSignal, retryAsync, retryBlocking, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const STATE = 1;
const SLOT = 2;
const WORDS = SLOT + SLOT_WORDS;
const BYTES = WORDS * 4;

export const RWLOCK_BLOCK = wordTable({
  title: 'RwLock block',
  base: 'An `RwLock`\'s heap block (`src/sync/rwlock.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'STATE', at: STATE, words: 1, meaning: 'bits 0–23 readers holding it; bits 24–29 writers waiting (at most 63); bit 30 a writer holds it', access: 'lockers (CAS) ↔ lockers' },
    { name: 'SLOT', at: SLOT, words: SLOT_WORDS, meaning: 'value slot (table above)', access: 'writer → readers, under STATE' },
  ],
});

const READERS = 0xffffff;
const WAITING_WRITER = 1 << 24;
const WAITING_MASK = 0x3f << 24;
const WRITER = 1 << 30;
const HELD_READ = 0;
const HELD_WRITE = 1;

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

  #tryRead = (s: number): RwLockReadGuard<T> | undefined => {
    if ((s & (WRITER | WAITING_MASK)) !== 0 || (s & READERS) === READERS) return undefined;
    if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + 1) !== s) return undefined;
    return new RwLockReadGuard<T>(this, HELD_READ);
  };

  #writeGuard(): RwLockWriteGuard<T> {
    return new Guard<T>(this, HELD_WRITE);
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
    if (held === HELD_WRITE) {
      Atomics.and(this.i32, this.w(STATE), ~WRITER);
      wake(this.i32, this.w(STATE));
      return;
    }
    const prev = Atomics.sub(this.i32, this.w(STATE), 1);
    // Last reader out with a writer waiting: let it in.
    if ((prev & READERS) === 1 && (prev & WAITING_MASK) !== 0) wake(this.i32, this.w(STATE));
  }

  /** Takes the write lock if free (a writer registered as waiting passes `waiting`). */
  #tryWriteFrom(s: number, waiting: boolean): RwLockWriteGuard<T> | undefined {
    if ((s & (WRITER | READERS)) !== 0) return undefined;
    const next = (waiting ? s - WAITING_WRITER : s) | WRITER;
    if (Atomics.compareExchange(this.i32, this.w(STATE), s, next) !== s) return undefined;
    return this.#writeGuard();
  }

  /** Registers this writer as waiting, so new readers hold back. */
  #announceWriter(): void {
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & WAITING_MASK) === WAITING_MASK) {
        throw rangeError('spindle: RwLock: more than 63 writers waiting at once');
      }
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + WAITING_WRITER) === s) return;
    }
  }

  /** Withdraws a writer registered as waiting (it gave up), letting held-back readers in. */
  #withdrawWriter(): void {
    Atomics.sub(this.i32, this.w(STATE), WAITING_WRITER);
    wake(this.i32, this.w(STATE));
  }

  /** Waits (without blocking the thread) for shared read access; `{ signal }` gives up cleanly. */
  async read(opts?: WaitOptions): Promise<RwLockReadGuard<T>> {
    this.live('read()');
    const signal = checkSignal(opts, 'RwLock.read()');
    const r = retryAsync(this.i32, this.w(STATE), this.#tryRead, signal, abortWith(signal, 'RwLock.read()'));
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until read access is granted. Worker threads only. */
  readSync(): RwLockReadGuard<T> {
    this.live('readSync()');
    return retryBlocking(this.i32, this.w(STATE), 'RwLock.readSync()', this.#tryRead);
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
    const r = retryAsync(this.i32, this.w(STATE), (s) => this.#tryWriteFrom(s, true), signal, aborted);
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until write access is granted. Worker threads only. */
  writeSync(): RwLockWriteGuard<T> {
    this.live('writeSync()');
    assertMayBlock('RwLock.writeSync()');
    const now = this.#tryWriteFrom(Atomics.load(this.i32, this.w(STATE)), false);
    if (now !== undefined) return now;
    this.#announceWriter();
    return retryBlocking(this.i32, this.w(STATE), 'RwLock.writeSync()', (s) => this.#tryWriteFrom(s, true));
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
