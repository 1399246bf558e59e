/**
 * Death recovery: a worker died (process.exit in a task, an uncaught error,
 * out of memory, terminate()). Runs on the main thread, from the worker's
 * 'exit' event, once the thread is gone. Everything the dead worker was
 * responsible for is found through shared memory alone:
 *
 * 1. `W_PENDING`: the task it held QUEUED while importing the task's module.
 *    Its start killed a worker: count the death in the slot; after
 *    MAX_START_DEATHS it fails (ERR_SPINDLE_TASK_KILLS_WORKER) instead of
 *    killing workers forever; before that, it goes back to the injector.
 * 2. The slots whose state says RUNNING by it: those tasks fail with
 *    ERR_SPINDLE_WORKER_DIED, delivered to their owners.
 * 3. `W_HAND`: the one index it held outside any queue; the slot's state
 *    says where it goes back (handoff.ts).
 * 4. Its shared deque: every queued task moves to the injector.
 * 5. Its private unit of `H_LIVE` (live.ts), and its share of `H_IDLE` (idle.ts).
 * Its inbox stays: the replacement worker takes those outcomes (and their
 * live units) as any owner would. Putting back an index that had already
 * reached a queue makes a duplicate; the slot transitions drop it (slot.ts).
 */
import { ErrorCode, ERR_TASK_KILLS_WORKER, ERR_WORKER_DIED } from '../errors.js';
import type { Core } from '../shared/core.js';
import { STEAL_EMPTY, STEAL_RETRY } from '../shared/deque.js';
import { H_LIVE, W_HAND, W_LOCAL_LIVE, W_PENDING } from '../shared/layout.js';
import { CANCELLED, COMPLETE, FREE, MAIN, PANICKED, QUEUED, RESERVED, TAKEN, runnerOf } from '../shared/slot.js';

/** Deaths while holding one task before it started, after which the task fails instead of being retried. */
export const MAX_START_DEATHS = 2;

export function recoverWorker(core: Core, w: number, reason: string): void {
  const { ctl, slots } = core;
  const died = (): Error =>
    Object.assign(new Error(ERR_WORKER_DIED(w, reason)), { code: ErrorCode.WORKER_DIED, worker: w });
  const deliver = (i: number): void => {
    const owner = slots.ownerOf(i);
    if (owner === MAIN) core.mainRing.push(i);
    else {
      core.inboxes[owner]!.push(i);
      core.idle.wake(owner);
    }
  };

  // 1. The task whose module it was importing.
  const p = Atomics.exchange(ctl, core.wword(w, W_PENDING), -1);
  if (p >= 0 && slots.stateOf(p) === QUEUED) {
    const deaths = slots.addDeath(p);
    if (deaths < MAX_START_DEATHS) core.injector.push(p);
    else {
      const out = slots.failQueued(p);
      if (out === PANICKED) {
        const e = Object.assign(new Error(ERR_TASK_KILLS_WORKER(deaths, reason)), { code: ErrorCode.TASK_KILLS_WORKER, worker: w });
        core.dropArgs(p);
        slots.releasePayload(p);
        core.enc.encodeValue(e, 'the error');
        core.writeEncoded(p);
      }
      if (out !== -1) deliver(p);
    }
  }

  // 2. The tasks it was running fail: the worker died under them. The payload
  // is the runner's while RUNNING, and the runner is gone: write it, then the state.
  for (let i = 0; i < core.lay.slots; i++) {
    if (runnerOf(slots.load(i)) !== w) continue;
    slots.releasePayload(i);
    core.enc.encodeValue(died(), 'the error');
    core.writeEncoded(i);
    if (slots.failOnDeath(i, w)) deliver(i);
  }

  // 3. The index in hand goes back where its state says.
  const h = Atomics.exchange(ctl, core.wword(w, W_HAND), -1);
  if (h >= 0) {
    const s = slots.stateOf(h);
    if (s === FREE) core.free.push(h);
    else if (s === RESERVED || s === TAKEN) {
      // Reserved and never published, or taken (its live unit already returned) and never released.
      slots.release(h);
      core.free.push(h);
    } else if (s === QUEUED) core.injector.push(h);
    else if (s === COMPLETE || s === PANICKED || s === CANCELLED) deliver(h);
    // RUNNING: step 2 failed it if it was ours; another worker's is that worker's.
  }

  // 4. Its queued tasks run elsewhere.
  const dq = core.stealers[w]!;
  for (;;) {
    const s = dq.steal();
    if (s === STEAL_EMPTY) break;
    if (s !== STEAL_RETRY) core.injector.push(s);
  }

  // 5. The unit it held for its private tasks (gone with its heap), and its idle share.
  if (Atomics.exchange(ctl, core.wword(w, W_LOCAL_LIVE), 0) > 0) Atomics.sub(ctl, H_LIVE, 1);
  core.idle.forget(w);
  core.idle.newWork();
}
