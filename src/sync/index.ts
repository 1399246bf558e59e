/**
 * Shared state for spindle tasks: Arc, Mutex, RwLock, Semaphore, Notify,
 * Barrier, OnceCell, atomics and SharedMap, all living in the shared heap and
 * crossing threads as handles. Importing this module registers every kind's
 * reviver, so a handle that arrives in this thread can be rebuilt.
 */
export { Arc, Weak } from './arc.js';
export { Mutex, MutexGuard, type MutexOptions } from './mutex.js';
export { RwLock, RwLockReadGuard, RwLockWriteGuard, type RwLockOptions } from './rwlock.js';
export { Semaphore, SemaphorePermit, MAX_PERMITS } from './semaphore.js';
export { Notify } from './notify.js';
export { Barrier, type BarrierWaitResult } from './barrier.js';
export { OnceCell } from './once-cell.js';
export { AtomicI32, AtomicU32, AtomicI64 } from './atomic.js';
export { SharedMap, type SharedMapOptions } from './shared-map.js';
export { Guard } from './guard.js';
export {
  PoisonError,
  MainThreadBlockingError,
  NotHeldError,
  HandleStateError,
  HeapMismatchError,
  SemaphoreClosedError,
  OnceCellSetError,
  WaitAbortedError,
  DeadlockError,
} from './errors.js';
export type { SharedOptions } from './block.js';
export { POLL_MS, type WaitOptions } from './wait.js';
export { SharedHeap, globalHeap, setGlobalHeap, watchWorker, type HeapOptions, type HeapStats } from '../shared/heap.js';
