/**
 * A worker's scheduler: its run loop, its private deque, and its side of the
 * shared queues.
 *
 * Where a worker looks for its next task, in order:
 *   1. its private deque: tasks spawned here with primitive arguments that no
 *      peer has needed yet. They are plain JS objects: no encode, no slot, and
 *      joining one that has not started runs it at once (DESIGN.md §3, after
 *      Acar, Charguéraud & Rainey 2013);
 *   2. its shared deque (LIFO);
 *   3. the injector (every 61st task it looks there first, so work from the
 *      main thread is never starved by a busy fork-join);
 *   4. the other workers' shared deques: steal half of a random victim's.
 * When a peer is searching or asleep (`H_IDLE` ≠ 0), the worker publishes the
 * older half of its private deque into its shared deque, where thieves see it.
 *
 * The loop runs a batch of at most BUDGET tasks per event-loop turn, then
 * yields (`setImmediate`), so timers, I/O and promise continuations of the
 * async tasks it is running make progress. With nothing to do it searches for
 * a while, then parks: `Atomics.wait` when no async task is in flight,
 * `Atomics.waitAsync` when one is (its event loop must keep turning).
 */
import { setImmediate as immediate } from 'node:timers';
import { JoinError, ERR_CAPTURE, ERR_IMPORT, ERR_NO_SUCH_TASK, ERR_RESULT } from '../src/errors.js';
import { JoinHandle, type AbortOptions, type HandleHost } from '../src/join.js';
import { TaskContext } from '../src/task-context.js';
import { codeKeyOf, compileInline, lookupTask, parseModuleKey } from '../src/task.js';
import { importTaskModule } from '../src/worker-loaders.js'; // consumers-wiring
import {
  ABORT,
  CANCELLED,
  COMPLETE,
  Core,
  MAIN,
  PANICKED,
  QUEUED,
  STATE_MASK,
  runningBy,
} from '../src/shared/core.js';
import { PARKED } from '../src/shared/idle.js';
import {
  H_IDLE,
  H_LIVE,
  H_MAIN_WAIT,
  H_SHUTDOWN,
  SLOT_CODE,
  SLOT_OWNER,
  SLOT_STATE,
  W_INJECTED,
  W_LOCAL_HITS,
  W_LOCAL_LIVE,
  W_ABORTS,
  W_HAND,
  W_STARTED,
  W_PARK,
  W_PARKS,
  W_PRIVATE,
  W_STEALS,
  W_STOLEN_FROM,
  W_TASKS_RUN,
} from '../src/shared/layout.js';

/** Tasks run per event-loop turn before yielding to it. */
const BUDGET = 128;
/** Every this many tasks the injector is checked before the local queues. */
const INJECTOR_INTERVAL = 61;
/** How long an idle worker searches before parking (a futex round trip costs ≈15 µs). */
const SEARCH_NS = 50_000n;

interface LocalTask {
  fn: Function;
  args: unknown[];
  h: JoinHandle<unknown>;
}

type Outcome = typeof COMPLETE | typeof PANICKED | typeof CANCELLED;

const isPrimitive = (v: unknown): boolean => (typeof v !== 'object' && typeof v !== 'function') || v === null;

export class WorkerScheduler implements HandleHost {
  private readonly ctl: Int32Array;
  private readonly wbase: number;
  /** The private deque: [head, length) are live; push/pop at the end, publish from the head. */
  private readonly local: (LocalTask | undefined)[] = [];
  private head = 0;
  /** Handles of published tasks this worker spawned, by slot. */
  private readonly owned = new Map<number, JoinHandle<unknown>>();
  /** Functions by code id; a promise while the module is being imported. */
  private readonly fns: (Function | Promise<Function> | undefined)[] = [];
  private readonly inline = new WeakSet<Function>();
  private seq = 0;
  /** The task whose synchronous part is running now (for currentTask()). */
  private currentSlot = -1;
  private currentLocal: JoinHandle<unknown> | null = null;
  /** Contexts handed out by currentTask(), so that an abort can fire their signals. */
  private readonly slotContexts = new Map<number, { ctx: TaskContext; done: boolean; aborted: boolean }>();
  private readonly localContexts = new Map<JoinHandle<unknown>, TaskContext>();
  private abortsSeen = 0;
  /** Tasks counted in H_LIVE that live only in this heap (mirrored to W_LOCAL_LIVE). */
  private localLive = 0;
  private inflight = 0;
  private tick = 0;
  private running = false;
  private scheduled = false;
  private parkedAsync = false;
  /** A task module is being imported: take no shared work until it is (see runSlot). */
  private loading = false;
  private exited = false;
  /**
   * Keeps this thread's event loop alive while it is parked in `waitAsync`,
   * which (on Node 20) holds no reference of its own: without it an idle
   * worker with suspended tasks would simply end. Cleared at exit. The main
   * thread's `Worker` is unref'd, so this never keeps the process alive.
   */
  private readonly keepAlive = setInterval(() => {}, 1 << 30);
  // Metrics, flushed to the shared words at the end of each batch.
  private tasksRun = 0;
  private steals = 0;
  private parks = 0;
  private injected = 0;
  private localHits = 0;

  constructor(
    readonly index: number,
    private readonly core: Core,
    private readonly onExit: () => void,
  ) {
    this.ctl = core.ctl;
    this.wbase = core.lay.worker(index);
  }

  start(): void {
    Atomics.store(this.ctl, this.wbase + W_STARTED, 1);
    this.schedule();
  }

  // ───────────────────────── spawning from inside a task ─────────────────────────

  spawn(t: unknown, args: unknown[]): JoinHandle<any> {
    const key = codeKeyOf(t);
    const h = new JoinHandle<unknown>(++this.seq * 2048 + this.index + 1, this);
    let primitive = true;
    for (let i = 0; i < args.length; i++) if (!isPrimitive(args[i])) primitive = false;
    if (primitive) {
      this.localUp();
      const lt: LocalTask = { fn: t as Function, args, h };
      h._local = lt;
      this.local.push(lt);
      if (Atomics.load(this.ctl, H_IDLE) !== 0) this.share();
    } else {
      // Objects are copied even to a task that runs here, so that a task never
      // shares a mutable object with its spawner: encode now (this also checks
      // the Send bound at the spawn site), and publish.
      const code = this.core.codes.idOf(key);
      this.core.enc.encodeArgs(args);
      const slot = this.core.free.pop();
      if (slot === -1) {
        // No slot free: keep it here, as a copy of its arguments.
        const enc = this.core.enc;
        const copy = enc.buf.slice(0, enc.pos);
        const lt: LocalTask = { fn: t as Function, args: this.core.dec.decodeArgs(copy, new DataView(copy.buffer), 0), h };
        this.localUp();
        h._local = lt;
        this.local.push(lt);
      } else {
        Atomics.add(this.ctl, H_LIVE, 1);
        this.publish(slot, code, h);
        this.core.idle.notifyOne();
      }
    }
    this.kick();
    return h;
  }

  /** Moves the older half of the private deque into the shared deque, where thieves can take it. */
  private share(): void {
    const n = this.local.length - this.head;
    const take = (n + 1) >> 1;
    for (let k = 0; k < take; k++) {
      const lt = this.local[this.head]!;
      const slot = this.core.free.pop();
      if (slot === -1) break;
      this.local[this.head++] = undefined;
      this.core.enc.encodeArgs(lt.args);
      lt.h._local = null;
      // From here the slot tracks it: if this worker dies, the task still runs elsewhere.
      // (Counted as a slot task before it stops counting as a private one: H_LIVE never dips.)
      Atomics.add(this.ctl, H_LIVE, 1);
      this.localDown();
      this.publish(slot, this.core.codes.idOf(codeKeyOf(lt.fn)), lt.h);
    }
    if (this.head === this.local.length) {
      this.local.length = 0;
      this.head = 0;
    }
    this.core.idle.notifyOne();
  }

  /** Writes the encoder's output as task `slot`, owned by this worker, and pushes it on the shared deque. */
  private publish(slot: number, code: number, h: JoinHandle<unknown>): void {
    const ctl = this.ctl;
    const base = this.core.lay.slot(slot);
    Atomics.store(ctl, base + SLOT_STATE, QUEUED);
    Atomics.store(ctl, base + SLOT_OWNER, this.index);
    Atomics.store(ctl, base + SLOT_CODE, code);
    this.core.writeEncoded(slot);
    this.core.setId(slot, h.id);
    h._slot = slot;
    this.owned.set(slot, h);
    this.pushLocal(slot);
  }

  private pushLocal(slot: number): void {
    const dq = this.core.deques[this.index]!;
    if (dq.push(slot)) return;
    // Full: move the older half to the injector, where anyone can take it.
    for (let k = dq.capacity >> 1; k > 0; k--) {
      const s = dq.steal();
      if (s === -1) continue;
      Atomics.store(this.ctl, this.wbase + W_HAND, s);
      this.core.injector.push(s);
      Atomics.store(this.ctl, this.wbase + W_HAND, -1);
    }
    dq.push(slot);
    this.core.idle.notifyOne();
  }

  // ───────────────────────── HandleHost: handles this worker owns ─────────────────────────

  /** Aborts a task this worker spawned. (`force` is for main-thread handles: a worker cannot end a peer.) */
  abort(h: JoinHandle<unknown>, _opts?: AbortOptions, reason?: JoinError): void {
    const why = reason ?? new JoinError(h.id, 'cancelled');
    const lt = h._local as LocalTask | null;
    if (lt !== null) {
      this.removeLocal(lt);
      h._local = null;
      h._err(why);
      this.taskDone(true);
    } else if (h._slot >= 0) {
      this.core.requestAbort(h._slot);
      h._err(why);
    } else {
      // Running from this heap (inline): settle now, tell the task through its context.
      h._err(why);
      this.localContexts.get(h)?._fire();
    }
  }

  /** The context of the task running now, made on first request. */
  current(): TaskContext | undefined {
    const i = this.currentSlot;
    if (i >= 0) {
      let entry = this.slotContexts.get(i);
      if (entry === undefined) {
        const core = this.core;
        const e = { ctx: null as unknown as TaskContext, done: false, aborted: false };
        e.ctx = new TaskContext(core.idOf(i), () => (e.done ? e.aborted : core.aborted(i)));
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

  /** Fires the signals of our running slot tasks whose owners aborted them (W_ABORTS moved). */
  private checkAborts(): void {
    const seen = Atomics.load(this.ctl, this.wbase + W_ABORTS);
    if (seen === this.abortsSeen) return;
    this.abortsSeen = seen;
    for (const [i, e] of this.slotContexts) if (this.core.aborted(i)) e.ctx._fire();
  }

  /** Someone awaits `h`: if it is still in the private deque, run it now, on this stack. */
  join(h: JoinHandle<unknown>): void {
    const lt = h._local as LocalTask | null;
    if (lt === null) return;
    this.removeLocal(lt);
    this.localHits++;
    this.runLocal(lt);
  }

  unobserved(_h: JoinHandle<unknown>, _e: JoinError): void {
    // A panic of a nested task nobody awaits: the parent saw its handle and
    // dropped it. Reported like the main thread's detached panics.
    process.stderr.write(`spindle: detached ${_e.message}\n`);
  }

  observed(_h: JoinHandle<unknown>): void {}

  private popLocal(): LocalTask {
    const lt = this.local.pop()!;
    if (this.head >= this.local.length) {
      this.local.length = 0;
      this.head = 0;
    }
    return lt;
  }

  private removeLocal(lt: LocalTask): void {
    const last = this.local.length - 1;
    if (this.local[last] === lt) {
      this.local.pop();
    } else {
      const i = this.local.indexOf(lt, this.head);
      if (i >= 0) this.local.splice(i, 1);
    }
    if (this.head >= this.local.length) {
      this.local.length = 0;
      this.head = 0;
    }
  }

  // ───────────────────────── running tasks ─────────────────────────

  private runLocal(lt: LocalTask): void {
    const h = lt.h;
    h._local = null;
    this.tasksRun++;
    this.invoke(lt.fn, lt.args, h);
  }

  /**
   * Calls a task's function as the current task (for currentTask()), and
   * reports its outcome — now, or when its promise settles — for `task`: a
   * slot index, or the handle of a task run from this heap.
   */
  private invoke(fn: Function, args: unknown[], task: number | JoinHandle<unknown>): void {
    const outerLocal = this.currentLocal;
    const outerSlot = this.currentSlot;
    this.currentSlot = typeof task === 'number' ? task : -1;
    this.currentLocal = typeof task === 'number' ? null : task;
    let r: unknown;
    try {
      r = fn(...args);
    } catch (e) {
      this.outcome(task, PANICKED, this.explain(fn, e));
      return;
    } finally {
      this.currentSlot = outerSlot;
      this.currentLocal = outerLocal;
    }
    if (!isThenable(r)) {
      this.outcome(task, COMPLETE, r);
      return;
    }
    this.inflight++;
    r.then(
      (v) => {
        this.inflight--;
        this.outcome(task, COMPLETE, v);
      },
      (e) => {
        this.inflight--;
        this.outcome(task, PANICKED, this.explain(fn, e));
      },
    );
  }

  private outcome(task: number | JoinHandle<unknown>, outcome: Outcome, v: unknown): void {
    if (typeof task === 'number') this.finishSlot(task, outcome, v);
    else this.settleLocal(task, outcome, v, true);
  }

  /** Settles a handle this worker owns with a value from this heap. `local`: the task was never in a slot. */
  private settleLocal(h: JoinHandle<unknown>, outcome: Outcome, v: unknown, local: boolean): void {
    this.localContexts.delete(h);
    if (outcome === COMPLETE) h._ok(v);
    else h._err(new JoinError(h.id, outcome === PANICKED ? 'panic' : 'cancelled', v));
    this.taskDone(local);
  }

  private taskDone(local: boolean): void {
    if (local) this.localDown();
    else this.liveDown();
  }

  /*
   * Live counting. H_LIVE is shared by every worker, and touching it twice per
   * task would bounce its cache line between cores on every fork-join spawn.
   * So a worker's private tasks count in its own W_LOCAL_LIVE, and the worker
   * holds one unit of H_LIVE while that count is above zero (a reservation):
   * H_LIVE > 0 whenever any task is live anywhere, at two H_LIVE operations
   * per busy period instead of per task.
   */
  private localUp(): void {
    Atomics.store(this.ctl, this.wbase + W_LOCAL_LIVE, ++this.localLive);
    if (this.localLive === 1) Atomics.add(this.ctl, H_LIVE, 1);
  }

  private localDown(): void {
    Atomics.store(this.ctl, this.wbase + W_LOCAL_LIVE, --this.localLive);
    if (this.localLive === 0) this.liveDown();
  }

  private liveDown(): void {
    // safety: the thread that takes H_LIVE to zero wakes the main thread, which may wait for quiet.
    if (Atomics.sub(this.ctl, H_LIVE, 1) === 1) this.wakeMain();
  }

  private wakeMain(): void {
    const ctl = this.ctl;
    if (Atomics.load(ctl, H_MAIN_WAIT) === 1 && Atomics.compareExchange(ctl, H_MAIN_WAIT, 1, 0) === 1) {
      Atomics.notify(ctl, H_MAIN_WAIT);
    }
  }

  /**
   * Starts slot task i, held in W_HAND. If its module is not loaded yet, the
   * task stays QUEUED in hand while the import runs, and the worker takes no
   * other shared work meanwhile (`loading`): should it die, exactly that one
   * task goes back to the injector, and no other was claimed for nothing.
   */
  private runSlot(i: number): void {
    const code = Atomics.load(this.ctl, this.core.lay.slot(i) + SLOT_CODE);
    const fn = this.fns[code] ?? this.resolve(code);
    if (typeof fn === 'function') {
      this.startSlot(i, fn, undefined);
      return;
    }
    this.loading = true;
    this.inflight++;
    fn.then(
      (f) => this.startSlot(i, f, undefined),
      (e) => this.startSlot(i, null, e),
    ).finally(() => {
      this.loading = false;
      this.inflight--;
      this.kick();
    });
  }

  /**
   * Claims slot task i and runs it. The index may be a duplicate (a dead
   * worker's task re-queued from W_HAND and from its deque): whoever loses
   * the claim drops it.
   */
  private startSlot(i: number, fn: Function | null, importError: unknown): void {
    const ctl = this.ctl;
    const at = this.core.lay.slot(i) + SLOT_STATE;
    const hand = this.wbase + W_HAND;
    for (;;) {
      const st = Atomics.load(ctl, at);
      if ((st & STATE_MASK) !== QUEUED) {
        Atomics.store(ctl, hand, -1); // someone else claimed it: a duplicate index
        return;
      }
      if ((st & ABORT) !== 0) {
        // safety: aborted while queued: the one who moves it to CANCELLED reports it.
        if (Atomics.compareExchange(ctl, at, st, CANCELLED) !== st) continue;
        Atomics.store(ctl, hand, -1);
        this.core.releasePayload(i);
        this.finishSlot(i, CANCELLED, undefined);
        return;
      }
      // safety: one CAS both claims the task and names us its runner, so a
      // death of this worker is seen by the main thread's slot scan from the
      // instant the task is ours; W_HAND can let go after it.
      if (Atomics.compareExchange(ctl, at, QUEUED, runningBy(this.index)) === QUEUED) break;
    }
    Atomics.store(ctl, hand, -1);
    this.tasksRun++;
    if (fn === null) {
      this.core.releasePayload(i);
      this.finishSlot(i, PANICKED, importError);
      return;
    }
    this.execSlot(i, fn);
  }

  private execSlot(i: number, fn: Function): void {
    let args: unknown[];
    try {
      args = this.core.decodeArgs(i);
    } catch (e) {
      this.core.releasePayload(i);
      this.finishSlot(i, PANICKED, e);
      return;
    }
    this.core.releasePayload(i);
    this.invoke(fn, args, i);
  }

  /** Delivers a slot task's outcome to its owner. */
  private finishSlot(i: number, outcome: Outcome, v: unknown): void {
    const ctl = this.ctl;
    const base = this.core.lay.slot(i);
    const aborted = this.core.aborted(i);
    // An aborted task's value is discarded: its handle already says cancelled.
    if (aborted) outcome = CANCELLED;
    const entry = this.slotContexts.get(i);
    if (entry !== undefined) {
      entry.aborted = aborted;
      entry.done = true;
      this.slotContexts.delete(i);
    }
    const owner = Atomics.load(ctl, base + SLOT_OWNER);
    if (owner === this.index) {
      // Our own task, popped back before anyone stole it: hand over the value itself.
      const h = this.owned.get(i);
      this.owned.delete(i);
      this.core.freeSlot(i);
      if (h !== undefined && !h.isFinished()) this.settleLocal(h, outcome, v, false);
      else this.taskDone(false);
      return;
    }
    const enc = this.core.enc;
    if (outcome !== CANCELLED) {
      try {
        enc.encodeValue(v, outcome === COMPLETE ? 'the result' : 'the thrown value');
      } catch (e) {
        outcome = PANICKED;
        enc.encodeValue(new TypeError(ERR_RESULT((e as Error).message)), 'the error');
      }
      this.core.writeEncoded(i);
    }
    Atomics.store(ctl, base + SLOT_STATE, outcome);
    // Metrics are flushed at the end of a batch; this one is flushed with the
    // completion, so that a spawner who saw its tasks finish sees them counted.
    Atomics.store(ctl, this.wbase + W_TASKS_RUN, this.tasksRun);
    // safety: the push publishes the state and payload written above to the owner.
    if (owner === MAIN) {
      // Main-spawned tasks are counted by the main thread itself, not in H_LIVE.
      this.core.mainRing.push(i);
      this.wakeMain();
    } else {
      this.core.inboxes[owner]!.push(i);
      this.core.idle.wake(owner);
      this.taskDone(false);
    }
  }

  /** Completions of tasks this worker spawned that ran elsewhere. */
  private drainInbox(): boolean {
    const inbox = this.core.inboxes[this.index]!;
    let any = false;
    for (let i = inbox.pop(); i !== -1; i = inbox.pop()) {
      any = true;
      const h = this.owned.get(i);
      this.owned.delete(i);
      const state = Atomics.load(this.ctl, this.core.lay.slot(i) + SLOT_STATE) & STATE_MASK;
      if (h !== undefined && !h.isFinished()) {
        try {
          if (state === COMPLETE) h._ok(this.core.decodeValue(i));
          else if (state === PANICKED) h._err(new JoinError(h.id, 'panic', this.core.decodeValue(i)));
          else h._err(new JoinError(h.id, 'cancelled'));
        } catch (e) {
          h._err(new JoinError(h.id, 'panic', e));
        }
      }
      this.core.freeSlot(i);
    }
    return any;
  }

  /** Finds the function for a code id: compiles inline source, or imports the task's module. */
  private resolve(code: number): Function | Promise<Function> {
    const key = this.core.codes.keyOf(code);
    if (key[0] === 's') {
      const fn = compileInline(key.slice(1));
      this.inline.add(fn);
      return (this.fns[code] = fn);
    }
    const known = lookupTask(key);
    if (known !== undefined) return (this.fns[code] = known);
    const { url, name } = parseModuleKey(key);
    const p = importTaskModule(url).then( // consumers-wiring: was import(url) (a TS loader first, worker-loaders.ts)
      () => {
        const fn = lookupTask(key);
        if (fn === undefined) throw new Error(ERR_NO_SUCH_TASK(url, name));
        return (this.fns[code] = fn);
      },
      (e: Error) => {
        throw new Error(ERR_IMPORT(url, name, e?.message ?? String(e)), { cause: e });
      },
    );
    // A failed import is retried by the next task that needs it.
    p.catch(() => {
      this.fns[code] = undefined;
    });
    return (this.fns[code] = p);
  }

  /** An inline task that reads a variable of its spawner fails with a ReferenceError: say why. */
  private explain(fn: Function, e: unknown): unknown {
    if (e instanceof ReferenceError && this.inline.has(fn)) {
      const better = new ReferenceError(ERR_CAPTURE(e.message), { cause: e });
      better.stack = `ReferenceError: ${better.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`;
      return better;
    }
    return e;
  }

  // ───────────────────────── the loop ─────────────────────────

  /** Something became runnable on this worker (a local spawn, a loaded module). */
  private kick(): void {
    if (this.running || this.scheduled || this.exited) return;
    if (this.parkedAsync) this.core.idle.wake(this.index);
    else this.schedule();
  }

  private schedule(): void {
    this.scheduled = true;
    immediate(this.turn);
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    this.running = true;
    this.checkAborts();
    let worked: boolean;
    try {
      worked = this.batch();
    } finally {
      this.running = false;
      this.flushMetrics();
    }
    if (worked) this.schedule();
    else this.idle();
  };

  /** Runs up to BUDGET tasks. True if it ran or settled anything. */
  private batch(): boolean {
    let worked = this.drainInbox();
    for (let ran = 0; ran < BUDGET; ran++) {
      if (this.local.length - this.head > 1 && Atomics.load(this.ctl, H_IDLE) !== 0) this.share();
      if (this.loading) {
        if (this.local.length > this.head) {
          this.runLocal(this.popLocal());
          worked = true;
          continue;
        }
        break;
      }
      if (++this.tick % INJECTOR_INTERVAL === 0 && this.refill() && this.runNext()) {
        worked = true;
        continue;
      }
      if (this.local.length > this.head) {
        this.runLocal(this.popLocal());
        worked = true;
        continue;
      }
      if (!this.runNext() && !(this.refill() && this.runNext())) break;
      worked = true;
      if ((ran & 15) === 15) this.drainInbox();
    }
    return this.drainInbox() || worked;
  }

  /*
   * Moving a task index between queues: a worker can be terminated at any
   * function entry or loop back-edge (that is where V8 delivers
   * `Worker.terminate()`), so an index popped from one queue is recorded in
   * W_HAND until it is in another queue or its task has started; the main
   * thread re-queues it if the worker dies with it in hand. The steps between
   * a pop's return and the W_HAND store contain no such point.
   */

  /** Moves a fair share of the injector (`len / workers + 1`, as tokio) into our deque. */
  private refill(): boolean {
    const inj = this.core.injector;
    const dq = this.core.deques[this.index]!;
    const hand = this.wbase + W_HAND;
    const want = 1 + Math.min((inj.len() / this.core.config.workers) | 0, (this.core.config.dequeCapacity >> 1) - dq.len());
    // One at a time, through W_HAND: only one index is ever outside a queue.
    // (So a batch runs newest-first from our LIFO deque; batches stay FIFO.)
    let moved = 0;
    for (; moved < want; moved++) {
      const s = inj.pop();
      if (s === -1) break;
      Atomics.store(this.ctl, hand, s);
      if (!dq.push(s)) {
        inj.push(s);
        Atomics.store(this.ctl, hand, -1);
        break;
      }
      Atomics.store(this.ctl, hand, -1);
    }
    this.injected += moved;
    // More than we run now sits in our deque: let a sleeper come and steal it.
    if (moved > 1) this.core.idle.notifyOne();
    return moved > 0;
  }

  /** Steals half of a random victim's deque into ours. */
  private steal(): boolean {
    const n = this.core.config.workers;
    if (n === 1) return false;
    const start = (Math.random() * n) | 0;
    const mine = this.core.deques[this.index]!;
    const hand = this.wbase + W_HAND;
    for (let k = 0; k < n; k++) {
      const v = (start + k) % n;
      if (v === this.index) continue;
      const dq = this.core.deques[v]!;
      let got = 0;
      for (let want = (dq.len() + 1) >> 1; want > 0; want--) {
        const s = dq.steal();
        if (s === -1) break;
        Atomics.store(this.ctl, hand, s);
        if (!mine.push(s)) this.core.injector.push(s);
        Atomics.store(this.ctl, hand, -1);
        got++;
      }
      if (got === 0) continue;
      if (got > 1) this.core.idle.notifyOne();
      // Published now, with the victim's count, rather than at the end of the batch.
      this.steals += got;
      Atomics.store(this.ctl, this.wbase + W_STEALS, this.steals);
      Atomics.add(this.ctl, this.core.lay.worker(v) + W_STOLEN_FROM, got);
      return true;
    }
    return false;
  }

  /** Pops our deque and starts the task (W_HAND covers the gap). False when the deque is empty. */
  private runNext(): boolean {
    const i = this.core.deques[this.index]!.pop();
    if (i === -1) return false;
    Atomics.store(this.ctl, this.wbase + W_HAND, i);
    this.runSlot(i);
    return true;
  }

  /** Nothing local to do: search for a while, then park. */
  private idle(): void {
    const core = this.core;
    const idle = core.idle;
    const searching = !this.loading && idle.tryBeginSearch(this.index);
    if (searching) {
      const until = process.hrtime.bigint() + SEARCH_NS;
      do {
        if (this.refill() || this.steal()) {
          // The last searcher to find work wakes another, in case there is more.
          if (idle.endSearch(this.index)) idle.notifyOne();
          this.running = true;
          try {
            this.runNext();
          } finally {
            this.running = false;
          }
          this.schedule();
          return;
        }
        if (core.inboxes[this.index]!.len() > 0) break;
      } while (process.hrtime.bigint() < until);
    }
    this.park(searching);
  }

  private park(searching: boolean): void {
    const core = this.core;
    const ctl = this.ctl;
    core.idle.prepareParking(this.index, searching);
    // safety: the rescan after announcing ourselves asleep is what makes a wake-up
    // impossible to lose (idle.ts).
    if (this.anyWork() || this.local.length > this.head) {
      core.idle.unpark(this.index);
      this.schedule();
      return;
    }
    if (Atomics.load(ctl, H_SHUTDOWN) === 1 && this.inflight === 0) {
      core.idle.unpark(this.index);
      this.exit();
      return;
    }
    this.parks++;
    this.flushMetrics();
    const word = this.wbase + W_PARK;
    if (this.inflight === 0) {
      Atomics.wait(ctl, word, PARKED);
      core.idle.unpark(this.index);
      this.schedule();
    } else {
      this.parkedAsync = true;
      const r = Atomics.waitAsync(ctl, word, PARKED);
      const resume = (): void => {
        this.parkedAsync = false;
        core.idle.unpark(this.index);
        this.schedule();
      };
      if (r.async) void r.value.then(resume);
      else resume();
    }
  }

  private anyWork(): boolean {
    const core = this.core;
    if (core.inboxes[this.index]!.len() > 0) return true;
    // An abort of one of our running tasks is work too: its signal must fire.
    if (Atomics.load(this.ctl, this.wbase + W_ABORTS) !== this.abortsSeen) return true;
    if (this.loading) return false;
    if (core.injector.len() > 0) return true;
    for (const dq of core.deques) if (dq.len() > 0) return true;
    return false;
  }

  private exit(): void {
    this.exited = true;
    clearInterval(this.keepAlive);
    this.flushMetrics();
    this.onExit();
  }

  private flushMetrics(): void {
    const ctl = this.ctl;
    const b = this.wbase;
    Atomics.store(ctl, b + W_TASKS_RUN, this.tasksRun);
    Atomics.store(ctl, b + W_STEALS, this.steals);
    Atomics.store(ctl, b + W_PARKS, this.parks);
    Atomics.store(ctl, b + W_INJECTED, this.injected);
    Atomics.store(ctl, b + W_LOCAL_HITS, this.localHits);
    Atomics.store(ctl, b + W_PRIVATE, this.local.length - this.head);
  }
}

function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as { then?: unknown }).then === 'function';
}
