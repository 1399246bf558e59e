/**
 * Errors thrown by the shared-state primitives. Each names what was misused
 * and how to fix it; the classes let callers tell them apart with `instanceof`.
 */

/** A thread died while holding the lock; the protected value may be half-updated. */
export class PoisonError extends Error {
  override readonly name = 'PoisonError';
}

/** A blocking `*Sync` call on the main thread, which must never block on another thread. */
export class MainThreadBlockingError extends Error {
  override readonly name = 'MainThreadBlockingError';
}

/** Releasing a guard or permit that was already released, or a lock this thread does not hold. */
export class NotHeldError extends Error {
  override readonly name = 'NotHeldError';
}

/** Using a handle after it was moved (Arc passed to a spawn), dropped or freed. */
export class HandleStateError extends Error {
  override readonly name = 'HandleStateError';
}

/** Putting a handle from one shared heap into an object that lives in another. */
export { HeapMismatchError } from '../shared/handle.js';

/** Acquiring from a Semaphore that was closed. */
export class SemaphoreClosedError extends Error {
  override readonly name = 'SemaphoreClosedError';
}

/** Setting a OnceCell that already holds (or is computing) a value. */
export class OnceCellSetError extends Error {
  override readonly name = 'OnceCellSetError';
}
