import { ErrorCode, SpindleError } from '../errors.js';

/**
 * Errors thrown by the shared-state primitives. Each names what was misused
 * and how to fix it; the classes let callers tell them apart with `instanceof`.
 */

/** A thread died while holding the lock; the protected value may be half-updated. */
export class PoisonError extends SpindleError {
  override readonly name = 'PoisonError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.POISONED, message, options);
  }
}

/** A blocking `*Sync` call on the main thread, which must never block on another thread. */
export class MainThreadBlockingError extends SpindleError {
  override readonly name = 'MainThreadBlockingError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.MAIN_THREAD_BLOCKING, message, options);
  }
}

/** Releasing a guard or permit that was already released, or a lock this thread does not hold. */
export class NotHeldError extends SpindleError {
  override readonly name = 'NotHeldError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.NOT_HELD, message, options);
  }
}

/** Using a handle after it was moved (Arc passed to a spawn), dropped or freed. */
export class HandleStateError extends SpindleError {
  override readonly name = 'HandleStateError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.HANDLE_STATE, message, options);
  }
}

/** Putting a handle from one shared heap into an object that lives in another. */
export { HeapMismatchError } from '../shared/handle.js';

/** Acquiring from a Semaphore that was closed. */
export class SemaphoreClosedError extends SpindleError {
  override readonly name = 'SemaphoreClosedError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.CLOSED, message, options);
  }
}

/** A wait given up through its `{ signal }`: `cause` is the signal's reason. */
export class WaitAbortedError extends SpindleError {
  override readonly name = 'WaitAbortedError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.ABORTED, message, options);
  }
}

/** A wait that would never end: this thread already holds what it waits for. */
export class DeadlockError extends SpindleError {
  override readonly name = 'DeadlockError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.DEADLOCK, message, options);
  }
}

/** Setting a OnceCell that already holds (or is computing) a value. */
export class OnceCellSetError extends SpindleError {
  override readonly name = 'OnceCellSetError';
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.ALREADY_SET, message, options);
  }
}
