/**
 * A worker's run loop. It only orchestrates; each protocol lives in its own
 * module: the harness (one task's life), the spawner (nested spawns and owned
 * handles), the private deque, live counting, the hand-off, task contexts, and
 * the sleep protocol (src/shared/idle.ts).
 *
 * Where a worker looks for its next task, in order:
 *   1. its private deque (tasks spawned here that no peer has needed yet);
 *   2. its shared deque (LIFO);
 *   3. the injector (every 61st task it looks there first, so work from the
 *      main thread is never starved by a busy fork-join);
 *   4. the other workers' shared deques: steal half of a random victim's.
 *
 * A turn runs at most BUDGET tasks, then yields (`setImmediate`), so timers,
 * I/O and the continuations of its async tasks make progress. With nothing to
 * do it searches for a while, then parks: `Atomics.wait` when no async task is
 * in flight, `Atomics.waitAsync` when one is (its event loop must keep turning).
 */
import { setImmediate as immediate } from 'node:timers';
import type { Core } from '../src/shared/core.js';
import type { TaskContext } from '../src/task-context.js';
import type { JoinHandle } from '../src/join.js';
import type { DequeOwner } from '../src/shared/deque.js';
import { STEAL_EMPTY, STEAL_RETRY } from '../src/shared/deque.js';
import { fault, faultsOn } from '../src/shared/faults.js';
import { PARKED } from '../src/shared/idle.js';
import { H_SHUTDOWN, W_INJECTED, W_LOCAL_HITS, W_PARKS, W_PRIVATE, W_STARTED, W_STEALS, W_STOLEN_FROM, W_TASKS_RUN } from '../src/shared/layout.js';
import type { PanicWatch } from '../src/panics.js';
import { Contexts } from './contexts.js';
import { Hand } from './handoff.js';
import { Harness, type Counters } from './harness.js';
import { Live } from './live.js';
import type { Modules } from './modules.js';
import { SpinWindow } from '../src/shared/spin-window.js';
import { PrivateDeque } from './private-deque.js';
import { Spawner } from './spawner.js';
import type { WorkerServers } from './servers.js';

/** Tasks run per event-loop turn before yielding to it. */
const BUDGET = 128;
/** Every this many tasks the injector is checked before the local queues. */
const INJECTOR_INTERVAL = 61;
/**
 * How long an idle worker searches before parking (a futex round trip costs
 * ≈15 µs), in ns: at most SEARCH_NS, at least SEARCH_MIN_NS, adapted to
 * whether searching found work (src/shared/spin-window.ts).
 */
const SEARCH_NS = 50_000;
const SEARCH_MIN_NS = 3_000;
/** Steal attempts that lose a race before moving to the next victim. */
const STEAL_RETRIES = 4;

export class WorkerLoop {
  private readonly ctl: Int32Array;
  private readonly wbase: number;
  private readonly dq: DequeOwner;
  private readonly priv = new PrivateDeque();
  private readonly hand: Hand;
  private readonly contexts: Contexts;
  private readonly harness: Harness;
  private readonly spawner: Spawner;
  private readonly counters: Counters = { tasksRun: 0, steals: 0, parks: 0, injected: 0, localHits: 0 };
  private tick = 0;
  private running = false;
  private scheduled = false;
  /**
   * Counted among the searchers since a hand-off (beforeHandOff), not yet
   * searching: the next turn searches at once, and whatever runs a task
   * before that leaves the searchers first (leaveSearch).
   */
  private preSearching = false;
  private parkedAsync = false;
  /** How long the next search lasts. */
  private readonly search = new SpinWindow(SEARCH_NS, SEARCH_MIN_NS);
  private exited = false;
  /**
   * Keeps this thread's event loop alive while it is parked in `waitAsync`,
   * which (on Node 20) holds no reference of its own. Cleared at exit. The
   * main thread's `Worker` is unref'd, so this never keeps the process alive.
   */
  private readonly keepAlive = setInterval(() => {}, 1 << 30);

  constructor(
    readonly index: number,
    private readonly core: Core,
    private readonly panics: PanicWatch,
    modules: Modules,
    private readonly onExit: () => void,
    private readonly servers: WorkerServers,
  ) {
    this.ctl = core.ctl;
    this.wbase = core.lay.worker(index);
    this.dq = core.ownerDeque(index);
    this.hand = new Hand(this.ctl, this.wbase);
    const live = new Live(this.ctl, this.wbase);
    this.contexts = new Contexts(this.ctl, core.slots, this.wbase);
    const kick = (): void => this.kick();
    this.harness = new Harness(core, index, this.hand, live, this.contexts, modules, this.counters, kick, () =>
      Atomics.store(this.ctl, this.wbase + W_TASKS_RUN, this.counters.tasksRun),
    );
    this.spawner = new Spawner(core, index, this.dq, this.priv, this.hand, live, this.harness, this.contexts, panics, this.counters, kick);
    this.harness.beforeHandOff = this.beforeHandOff;
  }

  start(): void {
    Atomics.store(this.ctl, this.wbase + W_STARTED, 1);
    this.schedule();
  }

  // ───────────── WorkerHost (context.ts): what in-task code asks of this thread ─────────────

  spawn(fn: unknown, args: unknown[]): JoinHandle<any> {
    return this.spawner.spawn(fn, args);
  }

  current(): TaskContext | undefined {
    return this.contexts.current();
  }

  get workers(): number {
    return this.core.config.workers;
  }

  // ───────────── the loop ─────────────

  /** Something became runnable on this worker (a local spawn, a loaded module, an abort of ours). */
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
    if (this.preSearching && !this.localWork() && this.dq.len() === 0) {
      this.preSearching = false;
      this.idle(true);
      return;
    }
    this.running = true;
    this.contexts.checkAborts();
    if (this.servers.pending()) this.servers.poll();
    let worked: boolean;
    try {
      worked = this.batch();
    } finally {
      this.running = false;
      this.flushMetrics();
    }
    if (worked) this.schedule();
    else {
      const counted = this.preSearching;
      this.preSearching = false;
      this.idle(counted);
    }
  };

  /** Runs up to BUDGET tasks. True if it ran or settled anything. */
  private batch(): boolean {
    const h = this.harness;
    let worked = h.takeCompletions();
    for (let ran = 0; ran < BUDGET; ran++) {
      if (this.priv.size > 1 && this.core.idle.anyoneHungry()) this.spawner.share();
      if (h.pendingReady) {
        this.leaveSearch();
        h.resumePending();
        worked = true;
        continue;
      }
      if (h.loading) {
        // Only private work while a module loads: a death now must cost exactly the one pending task.
        const lt = this.priv.pop();
        if (lt === undefined) break;
        this.leaveSearch();
        h.runLocal(lt);
        worked = true;
        continue;
      }
      if (++this.tick % INJECTOR_INTERVAL === 0 && this.refill() && this.runNext()) {
        worked = true;
        continue;
      }
      const lt = this.priv.pop();
      if (lt !== undefined) {
        this.leaveSearch();
        h.runLocal(lt);
        worked = true;
        continue;
      }
      if (!this.runNext() && !(this.refill() && this.runNext())) break;
      worked = true;
      if ((ran & 15) === 15) h.takeCompletions();
    }
    return h.takeCompletions() || worked;
  }

  /** Pops our deque and starts the task. False when the deque is empty. */
  private runNext(): boolean {
    // Left before the pop, so that moreShared counts what stays beside the task about to run.
    if (this.preSearching && this.dq.len() > 0) this.leaveSearch();
    const i = this.hand.popOwn(this.dq);
    if (i === -1) return false;
    if (faultsOn) fault('after-pop');
    this.harness.start(i);
    return true;
  }

  /** Moves a fair share of the injector (`len / workers + 1`, as tokio) into our deque, one index at a time through the hand. */
  private refill(): boolean {
    const core = this.core;
    const inj = core.injector;
    const want = 1 + Math.min((inj.len() / core.config.workers) | 0, (core.config.dequeCapacity >> 1) - this.dq.len());
    let moved = 0;
    for (; moved < want; moved++) {
      const s = this.hand.popRing(inj);
      if (s === -1) break;
      if (faultsOn) fault('after-pop');
      if (!this.dq.push(s)) {
        this.hand.pushRing(inj, s);
        break;
      }
      this.hand.letGo();
    }
    this.counters.injected += moved;
    // More than we run now sits in our deque: let a sleeper come and steal it.
    if (moved > 1) core.idle.newWork();
    return moved > 0;
  }

  /** Steals half of a random victim's deque into ours. */
  private steal(): boolean {
    const core = this.core;
    const n = core.config.workers;
    if (n === 1) return false;
    const start = (Math.random() * n) | 0;
    for (let k = 0; k < n; k++) {
      const v = (start + k) % n;
      if (v === this.index) continue;
      const victim = core.stealers[v]!;
      let got = 0;
      let retries = 0;
      for (let want = (victim.len() + 1) >> 1; want > 0; ) {
        const s = this.hand.steal(victim);
        if (s === STEAL_EMPTY) break;
        if (s === STEAL_RETRY) {
          if (++retries > STEAL_RETRIES) break;
          continue;
        }
        if (faultsOn) fault('after-pop');
        if (this.dq.push(s)) this.hand.letGo();
        else this.hand.pushRing(core.injector, s);
        got++;
        want--;
      }
      if (got === 0) continue;
      if (got > 1) core.idle.newWork();
      // Published now, with the victim's count, rather than at the end of the batch.
      this.counters.steals += got;
      Atomics.store(this.ctl, this.wbase + W_STEALS, this.counters.steals);
      Atomics.add(this.ctl, core.lay.worker(v) + W_STOLEN_FROM, got);
      return true;
    }
    return false;
  }

  /**
   * The outcome of a task goes to the main thread now. When nothing else is
   * runnable here, count this worker among the searchers *before* the
   * hand-off: a main thread that answers with a new task at once (a loop of
   * `await spawn()`) then sees a searcher and wakes nobody; this
   * worker, about to search, finds the task. Without it the main thread's
   * `newWork` runs while this worker is between its task and its search, and
   * wakes a parked worker for a task this one takes first: a futex wake-up
   * and a third runnable thread on two cores, for nothing (tokio's "wake the
   * worker that is about to search"). Not for outcomes that go to another
   * worker (fork-join): that worker waits for them in its own inbox, and a
   * searcher counted here would take the one search place of two workers
   * from it, so that it parks instead of spinning for its inbox (fork-join
   * efficiency fell from 0.84–0.90 to 0.61–0.66 with it).
   *
   * safety: a searcher counted here is a searcher in fact. Until its next
   * turn the worker runs no task without leaving the searchers first
   * (leaveSearch: in runNext and before every local run), and that turn
   * searches at once (idle) unless work of its own came up. Only while
   * `running` (inside a turn, or idle's run of what it found): an outcome
   * delivered from a promise reaction may come while this worker is parked.
   * A worker that dies in between leaves W_ROLE = searching, which recovery
   * takes back (idle.ts `forget`; test/faults.test.ts).
   */
  private readonly beforeHandOff = (): void => {
    if (!this.running || this.preSearching || this.harness.loading || this.harness.pendingReady) return;
    if (this.dq.len() > 0 || this.priv.size > 0) return;
    // With nobody parked, newWork wakes nobody anyway (and with one worker, nobody else exists).
    if (!this.core.idle.anyoneSleeping()) return;
    this.preSearching = this.core.idle.startSearch(this.index);
  };

  /** About to run a task: a worker counted as a searcher since a hand-off stops searching, as on finding work (idle.ts). */
  private leaveSearch(): void {
    if (!this.preSearching) return;
    this.preSearching = false;
    // safety: the look at the queues comes after leaving the searchers (idle.ts, "Searching").
    if (this.core.idle.workFound(this.index) && this.moreShared()) this.core.idle.newWork();
  }

  /** Nothing local to do: search for a while, then park. `counted`: already among the searchers (beforeHandOff). */
  private idle(counted = false): void {
    const core = this.core;
    const idle = core.idle;
    const searching = counted || (!this.harness.loading && idle.startSearch(this.index));
    if (searching) {
      const until = process.hrtime.bigint() + BigInt(this.search.next());
      do {
        if (this.refill() || this.steal()) {
          this.search.hit();
          // safety: the look at the queues comes after leaving the searchers (idle.ts, "Searching").
          if (idle.workFound(this.index) && this.moreShared()) idle.newWork();
          this.running = true;
          try {
            this.runNext();
          } finally {
            this.running = false;
          }
          this.schedule();
          return;
        }
        if (core.inboxes[this.index]!.len() > 0 || this.harness.pendingReady) {
          this.park(searching); // (which finds it)
          return;
        }
      } while (process.hrtime.bigint() < until);
      this.search.miss();
    }
    this.park(searching);
  }

  private park(searching: boolean): void {
    const core = this.core;
    const idle = core.idle;
    idle.noWorkFound(this.index, searching);
    // safety: the rescan after counting ourselves asleep is what makes a wake-up impossible to lose (idle.ts).
    if (this.anyWork()) {
      idle.unparked(this.index);
      this.schedule();
      return;
    }
    if (Atomics.load(this.ctl, H_SHUTDOWN) === 1 && this.harness.inflight === 0 && !this.servers.holdsLoop) {
      idle.unparked(this.index);
      this.exit();
      return;
    }
    this.counters.parks++;
    this.flushMetrics();
    const word = idle.parkWord(this.index);
    // Sockets, like async tasks, live on the event loop: a listening worker must not block it.
    if (this.harness.inflight === 0 && !this.servers.holdsLoop) {
      Atomics.wait(this.ctl, word, PARKED);
      idle.unparked(this.index);
      this.schedule();
      return;
    }
    this.parkedAsync = true;
    const r = Atomics.waitAsync(this.ctl, word, PARKED);
    const resume = (): void => {
      this.parkedAsync = false;
      idle.unparked(this.index);
      this.schedule();
    };
    if (r.async) void r.value.then(resume);
    else resume();
  }

  /** Work for another worker in the shared queues, beyond the one task this worker is about to run from its deque. */
  private moreShared(): boolean {
    const core = this.core;
    if (core.injector.len() > 0 || this.dq.len() > 1) return true;
    for (let v = 0; v < core.stealers.length; v++) if (v !== this.index && core.stealers[v]!.len() > 0) return true;
    return false;
  }

  /** Work only this worker can do: private tasks, resumed ones, sockets, its inbox, aborts of its tasks. */
  private localWork(): boolean {
    if (this.priv.size > 0 || this.harness.pendingReady) return true;
    if (this.servers.pending()) return true;
    if (this.core.inboxes[this.index]!.len() > 0) return true;
    // An abort of one of our running tasks is work too: its signal must fire.
    return this.contexts.abortsPending();
  }

  private anyWork(): boolean {
    const core = this.core;
    if (this.localWork()) return true;
    if (this.harness.loading) return false;
    if (core.injector.len() > 0) return true;
    for (const dq of core.stealers) if (dq.len() > 0) return true;
    return false;
  }

  private exit(): void {
    this.exited = true;
    clearInterval(this.keepAlive);
    this.flushMetrics();
    this.panics.flush();
    this.onExit();
  }

  private flushMetrics(): void {
    const ctl = this.ctl;
    const b = this.wbase;
    const c = this.counters;
    Atomics.store(ctl, b + W_TASKS_RUN, c.tasksRun);
    Atomics.store(ctl, b + W_STEALS, c.steals);
    Atomics.store(ctl, b + W_PARKS, c.parks);
    Atomics.store(ctl, b + W_INJECTED, c.injected);
    Atomics.store(ctl, b + W_LOCAL_HITS, c.localHits);
    Atomics.store(ctl, b + W_PRIVATE, this.priv.size);
  }
}
