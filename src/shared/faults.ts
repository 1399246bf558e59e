/**
 * Named fault points: where a worker may die mid-protocol, and where the
 * recovery argument (docs/architecture.md, "Death-safety") says it is safe to.
 * A test arms one point (`Runtime` test option `kFaults`: `{ point, after }`),
 * and the worker that reaches it for the `after`-th time exits on the spot,
 * as a crash would. Unarmed, a point costs one predictable branch.
 */

/** Every fault point, named after the protocol step it follows. */
export const FAULT_POINTS = [
  /** A slot index was popped from a queue (free ring, injector, deque, steal) and recorded in W_HAND. */
  'after-pop',
  /** A reserved slot, not yet published. */
  'after-reserve',
  /** An index in hand was pushed to its next queue (W_HAND still names it). */
  'after-push',
  /** A task was claimed (RUNNING by this worker), before its arguments were decoded. */
  'after-claim',
  /** A task's outcome was stored (terminal state), before the completion push. */
  'after-finish',
  /** A completion was pushed to its owner, before W_HAND let go. */
  'after-deliver',
  /** The owner took an outcome (TAKEN), before the slot went back to the free ring. */
  'after-take',
  /** A task module is being imported (the task is QUEUED in W_PENDING). */
  'mid-import',
  /** Overflow: half the deque is moving to the injector. */
  'mid-overflow',
  /** Inside the shared heap's allocator lock, a free-list change half made (heap.ts). */
  'mid-heap-lock',
  /** A Notify or Barrier changed its state for its sleepers, before waking them (sync/notify.ts, sync/barrier.ts). */
  'mid-sync-wake',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface FaultSpec {
  point: FaultPoint;
  /** Die on the n-th time the point is reached (1 = the first). */
  after: number;
  /** Only on this worker index (default: any). */
  worker?: number;
  /**
   * Shared by the workers armed with this spec: the first to reach its count
   * dies and sets it; the others never die then (one death per spec).
   */
  once?: Int32Array;
}

let armed: FaultSpec | null = null;
let count = 0;
/** True when a point is armed in this thread: call sites test it (`if (faultsOn) fault(...)`) before calling. */
export let faultsOn = false;

/** Arms a fault point in this thread (a worker, at start-up). */
export function armFault(spec: FaultSpec | null | undefined, worker: number): void {
  armed = spec != null && (spec.worker === undefined || spec.worker === worker) ? spec : null;
  faultsOn = armed !== null;
  count = 0;
}

/** Dies here if this point is armed and its count is reached. */
export function fault(point: FaultPoint): void {
  if (armed === null || armed.point !== point) return;
  if (++count !== armed.after) return;
  if (armed.once !== undefined && Atomics.compareExchange(armed.once, 0, 0, 1) !== 0) return;
  process.exit(70);
}
