/**
 * AtomicI32 / AtomicU32 / AtomicI64: one shared integer, every operation a
 * single `Atomics` call (sequentially consistent, like all JS atomics).
 * Layout: ATOMIC_BLOCK below.
 */
import { rangeError } from '../errors.js';
import type { SharedHeap } from '../shared/heap.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, KindName, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';

const KIND = 0;
const VALUE = 8;
const BYTES = 16;

export const ATOMIC_BLOCK = wordTable({
  title: 'AtomicI32 / AtomicU32 / AtomicI64 block',
  base: 'An atomic\'s heap block (`src/sync/atomic.ts`)',
  unit: 'byte',
  size: BYTES,
  rows: [
    { name: 'KIND', at: KIND, words: 4, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: '(reserved)', at: KIND + 4, words: VALUE - KIND - 4, meaning: '0 (aligns the value to 8)', access: '—' },
    { name: 'VALUE', at: VALUE, words: BYTES - VALUE, meaning: 'the value: Int32 / Uint32 (first 4 bytes) or BigInt64', access: 'everyone ↔ everyone' },
  ],
});

type Int = number | bigint;
type View = Int32Array | Uint32Array | BigInt64Array;
// One set of Atomics calls for the three element types; V fixes which.
const A = Atomics as unknown as {
  load(v: View, i: number): Int;
  store(v: View, i: number, x: Int): Int;
  add(v: View, i: number, x: Int): Int;
  sub(v: View, i: number, x: Int): Int;
  and(v: View, i: number, x: Int): Int;
  or(v: View, i: number, x: Int): Int;
  xor(v: View, i: number, x: Int): Int;
  exchange(v: View, i: number, x: Int): Int;
  compareExchange(v: View, i: number, e: Int, r: Int): Int;
};

/** What differs between the three atomics: the view, the index scale, the range. */
interface Flavor<V extends Int> {
  kind: KindName;
  view(heap: SharedHeap, end: number): View;
  shift: number;
  check(x: V): void;
  zero: V;
}

function intRange(kind: string, lo: number, hi: number) {
  return (x: number): void => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) {
      throw rangeError(`spindle: ${kind}: value ${String(x)} does not fit its slot (an integer in [${lo}, ${hi}])`);
    }
  };
}
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Shared implementation; the exported classes only name the flavor. */
abstract class SharedAtomic<V extends Int> extends SharedObject {
  readonly #view: View;
  readonly #idx: number;
  readonly #f: Flavor<V>;

  protected constructor(f: Flavor<V>, value: V, opts: SharedOptions | Attach | undefined) {
    super(f.kind, BYTES, opts, (heap, off) => {
      f.check(value);
      A.store(f.view(heap, off + BYTES), (off + VALUE) >> f.shift, value);
    });
    this.#f = f;
    this.#view = f.view(this.heap, this.off + BYTES);
    this.#idx = (this.off + VALUE) >> f.shift;
  }

  #v(x: V): View {
    this.live('use');
    this.#f.check(x);
    return this.#view;
  }

  /** Current value. */
  load(): V {
    return A.load(this.#v(this.#f.zero), this.#idx) as V;
  }
  /** Sets the value. @throws RangeError if it does not fit. */
  store(x: V): void {
    A.store(this.#v(x), this.#idx, x);
  }
  /** Adds `x` (wrapping) and returns the previous value. */
  add(x: V): V {
    return A.add(this.#v(x), this.#idx, x) as V;
  }
  /** Subtracts `x` (wrapping) and returns the previous value. */
  sub(x: V): V {
    return A.sub(this.#v(x), this.#idx, x) as V;
  }
  /** Bitwise and; returns the previous value. */
  and(x: V): V {
    return A.and(this.#v(x), this.#idx, x) as V;
  }
  /** Bitwise or; returns the previous value. */
  or(x: V): V {
    return A.or(this.#v(x), this.#idx, x) as V;
  }
  /** Bitwise xor; returns the previous value. */
  xor(x: V): V {
    return A.xor(this.#v(x), this.#idx, x) as V;
  }
  /** Sets `x` and returns the previous value. */
  exchange(x: V): V {
    return A.exchange(this.#v(x), this.#idx, x) as V;
  }
  /** Sets `replacement` if the value is `expected`; returns the previous value either way. */
  compareExchange(expected: V, replacement: V): V {
    this.#f.check(expected);
    return A.compareExchange(this.#v(replacement), this.#idx, expected, replacement) as V;
  }

}

const I32: Flavor<number> = { kind: 'AtomicI32', view: (h, e) => h.i32For(e), shift: 2, check: intRange('AtomicI32', -(2 ** 31), 2 ** 31 - 1), zero: 0 };
const U32: Flavor<number> = {
  kind: 'AtomicU32',
  view: (h, e) => { h.i32For(e); return h.u32; },
  shift: 2,
  check: intRange('AtomicU32', 0, 2 ** 32 - 1),
  zero: 0,
};
const I64: Flavor<bigint> = {
  kind: 'AtomicI64',
  view: (h, e) => { h.i32For(e); return h.i64; },
  shift: 3,
  check: (x) => {
    if (typeof x !== 'bigint' || x < I64_MIN || x > I64_MAX) {
      throw rangeError(`spindle: AtomicI64: value ${String(x)} does not fit its slot (a bigint in [-2n**63n, 2n**63n - 1n])`);
    }
  },
  zero: 0n,
};

/** A shared signed 32-bit integer (Rust's `AtomicI32`). */
export class AtomicI32 extends SharedAtomic<number> {
  /** Allocates one holding `value` (default 0). */
  constructor(value = 0, opts?: SharedOptions) {
    super(I32, value, opts);
  }
}
/** A shared unsigned 32-bit integer (Rust's `AtomicU32`). */
export class AtomicU32 extends SharedAtomic<number> {
  /** Allocates one holding `value` (default 0). */
  constructor(value = 0, opts?: SharedOptions) {
    super(U32, value, opts);
  }
}
/** A shared signed 64-bit integer as a bigint (Rust's `AtomicI64`). */
export class AtomicI64 extends SharedAtomic<bigint> {
  /** Allocates one holding `value` (default 0n). */
  constructor(value = 0n, opts?: SharedOptions) {
    super(I64, value, opts);
  }
}

registerObjectKind('AtomicI32', (at) => new AtomicI32(0, at as never));
registerObjectKind('AtomicU32', (at) => new AtomicU32(0, at as never));
registerObjectKind('AtomicI64', (at) => new AtomicI64(0n, at as never));
