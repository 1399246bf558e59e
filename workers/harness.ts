/**
 * The harness: what happens to one task on this worker (tokio's `harness.rs`)
 * — resolve its code, claim it, decode its arguments, invoke it, and route its
 * outcome to its owner; and, as an owner, take the outcomes of the tasks this
 * worker spawned.
 *
 * Every state change goes through a slot.ts transition; every index outside a
 * queue is in hand (handoff.ts); the fault points name the steps between.
 */
import { ERR_RESULT, joinError } from '../src/errors.js';
import type { JoinHandle } from '../src/join.js';
import { ownedArgs, releaseArgs, type TaskOwned } from '../src/shared/codec.js';
import { fault, faultsOn } from '../src/shared/faults.js';
import { H_LIVE } from '../src/shared/layout.js';
import type { Core } from '../src/shared/core.js';
import { CANCELLED, COMPLETE, Claim, MAIN, PANICKED, type Outcome } from '../src/shared/slot.js';
import type { Contexts } from './contexts.js';
import type { Hand } from './handoff.js';
import { wakeMain, type Live } from './live.js';
import type { Modules } from './modules.js';
import type { LocalTask } from './private-deque.js';

/** Counters published to the W_* metric words. */
export interface Counters {
  tasksRun: number;
  steals: number;
  parks: number;
  injected: number;
  localHits: number;
}

export class Harness {
  /** Async tasks (and imports) in flight: while > 0 the worker parks with waitAsync. */
  inflight = 0;
  /** A task is held in W_PENDING while its module loads: take no other shared work meanwhile. */
  loading = false;
  /** The pending task's module finished loading: resume it from the loop. */
  pendingReady = false;
  private pendingErr: unknown = undefined;
  /** Handles of published tasks this worker owns, by slot. */
  readonly owned = new Map<number, JoinHandle<unknown>>();

  constructor(
    private readonly core: Core,
    private readonly me: number,
    private readonly hand: Hand,
    private readonly live: Live,
    private readonly contexts: Contexts,
    private readonly modules: Modules,
    private readonly counters: Counters,
    private readonly kick: () => void,
    private readonly publishTasksRun: () => void,
  ) {}

  /**
   * Called just before an outcome is handed to the main thread (the loop's
   * `beforeHandOff`): the main thread may answer it with a new task at once,
   * and this worker may want to be searching by then.
   */
  beforeHandOff: () => void = () => {};

  // ───────────── starting a slot task ─────────────

  /** Starts slot task i, which is in hand (popped from a queue; maybe a stale duplicate). */
  start(i: number): void {
    const slots = this.core.slots;
    if (!slots.aborted(i)) {
      // Provisional: a stale index may name another task by now; the claim decides, and the code is read again after it.
      const fn = this.modules.get(slots.codeOf(i));
      if (typeof fn !== 'function') {
        this.await(i, fn);
        return;
      }
    }
    this.claimAndRun(i);
  }

  /** Holds QUEUED task i in W_PENDING while its module loads; the loop resumes it when `pendingReady`. */
  private await(i: number, p: Promise<Function>): void {
    this.hand.toPending(i);
    this.loading = true;
    this.inflight++;
    if (faultsOn) fault('mid-import');
    p.then(
      () => {},
      (e) => {
        this.pendingErr = e;
      },
    ).finally(() => {
      this.inflight--;
      this.pendingReady = true;
      // Resumed from the loop, never from this callback: the worker may count as parked now (idle.ts).
      this.kick();
    });
  }

  /** The pending task's module loaded (or failed to): claim and run it. */
  resumePending(): void {
    const i = this.hand.pendingIndex();
    const err = this.pendingErr;
    this.pendingReady = false;
    this.loading = false;
    this.pendingErr = undefined;
    const claim = this.core.slots.claim(i, this.me);
    this.hand.clearPending();
    if (claim === Claim.Stale) return;
    if (claim === Claim.Cancelled) {
      this.core.dropArgs(i);
      this.deliver(i, CANCELLED, undefined, false, this.core.slots.ownerOf(i));
      return;
    }
    if (err !== undefined) {
      this.counters.tasksRun++;
      this.core.dropArgs(i);
      this.core.slots.releasePayload(i);
      this.finishSlot(i, PANICKED, err);
      return;
    }
    this.run(i);
  }

  private claimAndRun(i: number): void {
    const claim = this.core.slots.claim(i, this.me);
    if (claim === Claim.Stale) {
      this.hand.letGo(); // a duplicate index: someone else has (or had) this task
      return;
    }
    if (claim === Claim.Cancelled) {
      this.core.dropArgs(i);
      this.deliver(i, CANCELLED, undefined, false, this.core.slots.ownerOf(i));
      return;
    }
    this.hand.letGo(); // safety: RUNNING names us as its runner from the claim on
    this.run(i);
  }

  /** Runs claimed slot task i (RUNNING by us). */
  private run(i: number): void {
    if (faultsOn) fault('after-claim');
    this.counters.tasksRun++;
    const core = this.core;
    let args: unknown[];
    try {
      args = core.decodeArgs(i);
    } catch (e) {
      core.slots.releasePayload(i);
      this.finishSlot(i, PANICKED, e);
      return;
    }
    core.slots.releasePayload(i);
    const fn = this.modules.get(core.slots.codeOf(i)); // after the claim: the task's own code
    if (typeof fn === 'function') {
      this.invoke(fn, args, i);
      return;
    }
    // A stale index's provisional code differed: load this task's module while it runs.
    this.inflight++;
    fn.then(
      (f) => {
        this.inflight--;
        this.invoke(f, args, i);
      },
      (e) => {
        this.inflight--;
        releaseArgs(args);
        this.finishSlot(i, PANICKED, e);
      },
    );
  }

  /** Runs a private task (never published) on this stack. */
  runLocal(lt: LocalTask): void {
    lt.h._local = null;
    this.counters.tasksRun++;
    this.invoke(lt.fn, lt.args, lt.h);
  }

  /**
   * Calls a task's function as the current task (for currentTask()), and routes
   * its outcome — now, or when its promise settles. `task`: a slot index, or
   * the handle of a task run from this heap.
   */
  private invoke(fn: Function, args: unknown[], task: number | JoinHandle<unknown>): void {
    // The Arcs moved into this task (revived with its arguments) are dropped at its end.
    const owned = ownedArgs(args);
    const ctx = this.contexts;
    const outerLocal = ctx.currentLocal;
    const outerSlot = ctx.currentSlot;
    ctx.currentSlot = typeof task === 'number' ? task : -1;
    ctx.currentLocal = typeof task === 'number' ? null : task;
    let r: unknown;
    try {
      r = fn(...args);
    } catch (e) {
      this.outcome(task, PANICKED, this.modules.explain(fn, e), owned);
      return;
    } finally {
      ctx.currentSlot = outerSlot;
      ctx.currentLocal = outerLocal;
    }
    if (!isThenable(r)) {
      this.outcome(task, COMPLETE, r, owned);
      return;
    }
    this.inflight++;
    r.then(
      (v) => {
        this.inflight--;
        this.outcome(task, COMPLETE, v, owned);
      },
      (e) => {
        this.inflight--;
        this.outcome(task, PANICKED, this.modules.explain(fn, e), owned);
      },
    );
  }

  private outcome(task: number | JoinHandle<unknown>, outcome: Outcome, v: unknown, owned: TaskOwned | undefined): void {
    // Before the outcome is published, so that its awaiter sees the counts dropped. Arcs in v are
    // kept: they move on with it (encoded) or are handed over in it; a v that goes to nobody keeps none.
    if (owned !== undefined) {
      const toNobody = typeof task === 'number' ? this.core.slots.aborted(task) : task.isFinished();
      owned.release(toNobody ? undefined : v);
    }
    if (typeof task === 'number') this.finishSlot(task, outcome, v);
    else {
      this.contexts.localDone(task);
      settle(task, outcome, v);
      this.live.privateDown();
    }
  }

  // ───────────── routing an outcome ─────────────

  /** Slot task i (RUNNING by us) ended with `outcome`: store it and deliver it to the owner. */
  private finishSlot(i: number, outcome: Outcome, v: unknown): void {
    const core = this.core;
    const slots = core.slots;
    // safety: SLOT_OWNER changes only at a publish, which needs the slot FREE: read once for the delivery too.
    const owner = slots.ownerOf(i);
    const mine = owner === this.me;
    if (!mine && outcome !== CANCELLED && !slots.aborted(i)) {
      // The payload is ours while the task is RUNNING by us: write it before the state.
      const enc = core.enc;
      try {
        enc.encodeValue(v, outcome === COMPLETE ? 'the result' : 'the thrown value');
      } catch (e) {
        outcome = PANICKED;
        enc.encodeValue(new TypeError(ERR_RESULT((e as Error).message)), 'the error');
      }
      core.writeEncoded(i);
    }
    this.hand.hold(i); // safety: from the finish to the delivery, i is in no queue: W_HAND covers it
    const out = slots.finish(i, this.me, outcome);
    if (faultsOn) fault('after-finish');
    this.contexts.slotDone(i, out === CANCELLED);
    this.deliver(i, out, v, mine, owner);
  }

  /** Slot i holds an outcome and is in hand: hand it to `owner` (its SLOT_OWNER), or take it if `mine`. */
  private deliver(i: number, out: Outcome, v: unknown, mine: boolean, owner: number): void {
    const core = this.core;
    // Published with the completion, so that a spawner who saw its tasks finish sees them counted.
    this.publishTasksRun();
    if (mine) {
      this.takeOwn(i, out, v);
      return;
    }
    if (owner === MAIN) {
      this.beforeHandOff();
      core.mainRing.push(i);
      if (faultsOn) fault('after-deliver');
      this.hand.letGo();
      wakeMain(core.ctl);
    } else {
      core.inboxes[owner]!.push(i);
      if (faultsOn) fault('after-deliver');
      this.hand.letGo();
      core.idle.wake(owner);
    }
  }

  /** Our own task, popped back before anyone stole it: settle its handle with the value itself. */
  private takeOwn(i: number, out: Outcome, v: unknown): void {
    const core = this.core;
    if (core.slots.take(i, this.me) === -1) throw new Error(`spindle: internal: own slot ${i} could not be taken`);
    // safety: adjacent to the take transition (live.ts)
    if (Atomics.sub(core.ctl, H_LIVE, 1) === 1) wakeMain(core.ctl);
    if (faultsOn) fault('after-take');
    const h = this.owned.get(i);
    this.owned.delete(i);
    if (h !== undefined) {
      h._slot = -1;
      settle(h, out, v);
    }
    core.slots.release(i);
    this.hand.pushRing(core.free, i);
  }

  /** Takes the outcomes of tasks this worker owns that ran elsewhere (our inbox). True if there were any. */
  takeCompletions(): boolean {
    const core = this.core;
    const inbox = core.inboxes[this.me]!;
    let any = false;
    for (;;) {
      const i = this.hand.popRing(inbox);
      if (i === -1) return any;
      any = true;
      const out = core.slots.take(i, this.me);
      if (out === -1) {
        this.hand.letGo(); // a stale duplicate
        continue;
      }
      // safety: adjacent to the take transition (live.ts)
      if (Atomics.sub(core.ctl, H_LIVE, 1) === 1) wakeMain(core.ctl);
      if (faultsOn) fault('after-take');
      const h = this.owned.get(i);
      this.owned.delete(i);
      if (h !== undefined && !h.isFinished()) {
        h._slot = -1;
        try {
          if (out === COMPLETE) h._ok(core.decodeValue(i));
          else if (out === PANICKED) h._err(joinError(h.id, 'panic', core.decodeValue(i)));
          else h._err(joinError(h.id, 'cancelled'));
        } catch (e) {
          h._err(joinError(h.id, 'panic', e));
        }
      } else if (h !== undefined) h._slot = -1;
      core.slots.release(i);
      this.hand.pushRing(core.free, i);
    }
  }
}

/** Settles a handle this worker owns with a value from this heap. */
function settle(h: JoinHandle<unknown>, outcome: Outcome, v: unknown): void {
  if (outcome === COMPLETE) h._ok(v);
  else h._err(joinError(h.id, outcome === PANICKED ? 'panic' : 'cancelled', v));
}

function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as { then?: unknown }).then === 'function';
}

