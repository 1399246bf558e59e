/**
 * The shared-handle protocol: how an object that lives in shared memory crosses
 * threads as a reference instead of a copy.
 *
 * A shared object (Arc, Mutex, channel end, shared map, ...) implements
 * `[SHARED]()`, which returns its kind, the byte offset of its block in the
 * process-wide shared heap, and the block's generation (heap.ts). The encoder
 * writes `(kind, offset, generation)`; the decoder on the other thread calls
 * the reviver registered for that kind, which refuses a block whose
 * generation has moved on (freed, or reused by another object).
 * `commit`, if present, runs only once the whole spawn has been encoded
 * successfully (an `Arc` uses it to mark the spawner's handle as moved), so a
 * spawn that fails on a later argument leaves earlier handles untouched.
 */
import { ErrorCode, SpindleError, type ErrorCode as Code } from '../errors.js';
import type { SharedHeap } from './heap.js';

export const SHARED: unique symbol = Symbol.for('spindle.shared') as never;

export interface SharedRef {
  /** Registered kind name, e.g. `'Mutex'`. */
  kind: string;
  /** The heap the block lives in; must be the process-wide heap to cross a spawn. */
  heap: SharedHeap;
  /** Byte offset of the object's block in that heap. */
  offset: number;
  /**
   * The block's generation when the handle was made (`heap.generation(offset)`).
   * Omitted: the encoder reads the block's current one (no staleness check).
   */
  generation?: number;
  /** Runs after the spawn that carries the handle has been fully encoded. */
  commit?: () => void;
}

export interface SharedHandle {
  [SHARED](): SharedRef;
}

/**
 * Rebuilds a handle on the receiving side. `generation` is the one the sender
 * saw: a reviver refuses the block (HandleStateError) when it has moved on.
 * Undefined (a tool reviving by hand): adopt the block's current generation.
 */
export type Reviver = (heap: SharedHeap, offset: number, generation?: number) => unknown;
/** Releases the block(s) of an object of some kind (used when an Arc that owns it drops). */
export type Dropper = (heap: SharedHeap, offset: number, generation?: number) => void;

/**
 * Implemented by a handle that the receiver of a spawn owns (an `Arc`, a
 * `Weak`, a channel end, a comlink endpoint or actor remote: they were moved
 * in): releases it unless it was already dropped or moved on. The runtime
 * calls it for a task's arguments at the task's end, so a channel end a task
 * left behind closes its side instead of leaving its peers waiting forever.
 */
export const RELEASE: unique symbol = Symbol.for('spindle.release') as never;
export interface Owned {
  [RELEASE](): void;
}
export function isOwned(v: object): v is Owned {
  return typeof (v as Partial<Owned>)[RELEASE] === 'function';
}

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
    throw new SpindleError(
      ErrorCode.WRONG_CONTEXT,
      `spindle: no shared kind '${kind}' is registered in this thread; ` +
        `import the module that defines it (e.g. 'spindle') before receiving it`,
    );
  }
  return r;
}

/** A handle from one shared heap put where another heap's is needed: bad input, so a `TypeError` (code ERR_SPINDLE_HEAP_MISMATCH). */
export class HeapMismatchError extends TypeError {
  /** `'HeapMismatchError'`. */
  override readonly name = 'HeapMismatchError';
  /** `'ERR_SPINDLE_HEAP_MISMATCH'`. */
  readonly code: Code = ErrorCode.HEAP_MISMATCH;
}

export function isSharedHandle(v: object): v is SharedHandle {
  return typeof (v as Partial<SharedHandle>)[SHARED] === 'function';
}
