/**
 * The shared-handle protocol: how an object that lives in shared memory crosses
 * threads as a reference instead of a copy.
 *
 * A shared object (Arc, Mutex, channel end, shared map, ...) implements
 * `[SHARED]()`, which returns its kind and the byte offset of its block in the
 * process-wide shared heap. The argument encoder writes `(kind, offset)`; the
 * decoder on the other thread calls the reviver registered for that kind.
 * `commit`, if present, runs only once the whole spawn has been encoded
 * successfully (an `Arc` uses it to mark the spawner's handle as moved), so a
 * spawn that fails on a later argument leaves earlier handles untouched.
 */
import type { SharedHeap } from './heap.js';

export const SHARED: unique symbol = Symbol.for('spindle.shared') as never;

export interface SharedRef {
  /** Registered kind name, e.g. `'Mutex'`. */
  kind: string;
  /** The heap the block lives in; must be the process-wide heap to cross a spawn. */
  heap: SharedHeap;
  /** Byte offset of the object's block in that heap. */
  offset: number;
  /** Runs after the spawn that carries the handle has been fully encoded. */
  commit?: () => void;
}

export interface SharedHandle {
  [SHARED](): SharedRef;
}

export type Reviver = (heap: SharedHeap, offset: number) => unknown;
/** Releases the block(s) of an object of some kind (used when an Arc that owns it drops). */
export type Dropper = (heap: SharedHeap, offset: number) => void;

const revivers = new Map<string, Reviver>();
const droppers = new Map<string, Dropper>();

/**
 * Registers how to rebuild a handle of `kind` on the receiving thread, and
 * optionally how to free such an object when its owner (an Arc) drops it.
 */
export function registerSharedKind(kind: string, revive: Reviver, drop?: Dropper): void {
  revivers.set(kind, revive);
  if (drop !== undefined) droppers.set(kind, drop);
}

/** How to free an object of `kind`, or undefined when it needs no freeing. */
export function dropperFor(kind: string): Dropper | undefined {
  return droppers.get(kind);
}

export function reviverFor(kind: string): Reviver {
  const r = revivers.get(kind);
  if (r === undefined) {
    throw new TypeError(
      `spindle: no shared kind '${kind}' is registered in this thread; ` +
        `import the module that defines it (e.g. 'spindle') before receiving it`,
    );
  }
  return r;
}

/** A shared object was asked to refer to an object that lives in a different SharedHeap. */
/** A handle from one shared heap put where another heap's is needed: bad input, so a `TypeError` (code ERR_SPINDLE_HEAP_MISMATCH). */
export class HeapMismatchError extends TypeError {
  /** `'HeapMismatchError'`. */
  override readonly name = 'HeapMismatchError';
  /** `'ERR_SPINDLE_HEAP_MISMATCH'`. */
  readonly code = 'ERR_SPINDLE_HEAP_MISMATCH';
}

export function isSharedHandle(v: object): v is SharedHandle {
  return typeof (v as Partial<SharedHandle>)[SHARED] === 'function';
}
