/**
 * Shared state for spindle tasks: Arc, Mutex, RwLock, Semaphore, Notify,
 * Barrier, OnceCell, atomics and SharedMap, all living in the shared heap and
 * crossing threads as handles. Importing this module registers every kind's
 * reviver, so a handle that arrives in this thread can be rebuilt.
 */
export { Mutex, MutexGuard, type MutexOptions } from './mutex.js';
export {
  PoisonError,
  MainThreadBlockingError,
  NotHeldError,
  HandleStateError,
  HeapMismatchError,
  SemaphoreClosedError,
  OnceCellSetError,
} from './errors.js';
export type { SharedOptions } from './block.js';
export { POLL_MS } from './wait.js';
export { SharedHeap, globalHeap, setGlobalHeap, watchWorker, type HeapOptions, type HeapStats } from '../shared/heap.js';
