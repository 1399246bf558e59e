/**
 * Task contexts: what `currentTask()` returns inside a task (its id, its
 * AbortSignal, `yieldNow()`), and firing those signals when an owner aborts a
 * task running here.
 *
 * Slot tasks learn of an abort through their slot's ABORT flag; the aborter
 * bumps our `W_ABORTS` word and wakes us, and the loop calls `checkAborts`.
 * Tasks run from this heap (private tasks) are aborted by this thread itself.
 */
import { JoinError } from '../src/errors.js';
import type { JoinHandle } from '../src/join.js';
import type { Slots } from '../src/shared/slot.js';
import { TaskContext } from '../src/task-context.js';
import { W_ABORTS } from '../src/shared/layout.js';

interface SlotEntry {
  ctx: TaskContext;
  done: boolean;
  aborted: boolean;
}

export class Contexts {
  /** The task whose synchronous part is running now. */
  currentSlot = -1;
  currentLocal: JoinHandle<unknown> | null = null;
  private readonly slotContexts = new Map<number, SlotEntry>();
  private readonly localContexts = new Map<JoinHandle<unknown>, TaskContext>();
  private abortsSeen = 0;
  private readonly abortsWord: number;

  constructor(
    private readonly ctl: Int32Array,
    private readonly slots: Slots,
    workerBase: number,
  ) {
    this.abortsWord = workerBase + W_ABORTS;
  }

  /** The context of the task running now, made on first request. */
  current(): TaskContext | undefined {
    const i = this.currentSlot;
    if (i >= 0) {
      let entry = this.slotContexts.get(i);
      if (entry === undefined) {
        const e: SlotEntry = { ctx: null as unknown as TaskContext, done: false, aborted: false };
        e.ctx = new TaskContext(this.slots.idOf(i), () => (e.done ? e.aborted : this.slots.aborted(i)));
        this.slotContexts.set(i, (entry = e));
      }
      return entry.ctx;
    }
    const h = this.currentLocal;
    if (h === null) return undefined;
    let ctx = this.localContexts.get(h);
    if (ctx === undefined) {
      ctx = new TaskContext(h.id, () => h.isFinished() && h._value instanceof JoinError && h._value.isCancelled());
      this.localContexts.set(h, ctx);
    }
    return ctx;
  }

  /** True when an owner aborted one of our running slot tasks since we last looked. */
  abortsPending(): boolean {
    return Atomics.load(this.ctl, this.abortsWord) !== this.abortsSeen;
  }

  /** Fires the signals of our running slot tasks whose owners aborted them. */
  checkAborts(): void {
    const seen = Atomics.load(this.ctl, this.abortsWord);
    if (seen === this.abortsSeen) return;
    this.abortsSeen = seen;
    for (const [i, e] of this.slotContexts) if (this.slots.aborted(i)) e.ctx._fire();
  }

  /** Slot task i finished: its context (if any) keeps answering `aborted` with how it ended. */
  slotDone(i: number, aborted: boolean): void {
    const e = this.slotContexts.get(i);
    if (e === undefined) return;
    e.aborted = aborted;
    e.done = true;
    this.slotContexts.delete(i);
  }

  /** A task run from this heap was aborted: fire its signal. */
  localAborted(h: JoinHandle<unknown>): void {
    this.localContexts.get(h)?._fire();
  }

  localDone(h: JoinHandle<unknown>): void {
    this.localContexts.delete(h);
  }
}
