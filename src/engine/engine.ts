/**
 * The runtime's engine on the main thread (the facade is runtime.ts):
 * - spawning: a task goes into a reserved slot and onto the injector; when no
 *   slot is free it waits in the overflow (its payload in one arena) and is
 *   published as slots free up: spawn never blocks and never drops;
 * - completions: the main thread drains its completion ring and settles the
 *   handles, waiting with `Atomics.waitAsync` in between (it never blocks),
 *   after a short spin while completions have been coming quickly;
 * - deaths: recovery.ts, then a replacement, or giving up when workers cannot
 *   even start;
 * - shutdown, graceful or at once.
 *
 * A pending `waitAsync` does not keep Node's event loop alive, so while any
 * task is live the engine holds a referenced timer (`keepAlive`) and drops it
 * when none is: an idle runtime never keeps the process alive, a busy one does.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ERR_CANCELLED_BY_SHUTDOWN, ERR_OPTION, ERR_START_FAILED, JoinError, joinError, rangeError } from '../errors.js';
import { nextTaskId } from '../ids.js';
import { JoinHandle, type AbortOptions, type HandleHost } from '../join.js';
import type { ResolvedOptions } from '../options.js';
import { PanicWatch } from '../panics.js';
import { Core } from '../shared/core.js';
import type { FaultSpec } from '../shared/faults.js';
import { globalHeap } from '../shared/heap.js';
import {
  H_LIVE,
  H_MAIN_WAIT,
  H_SHUTDOWN,
  W_INJECTED,
  W_LOCAL_HITS,
  W_PARKS,
  W_PRIVATE,
  W_STEALS,
  W_STOLEN_FROM,
  W_TASKS_RUN,
} from '../shared/layout.js';
import { SabRegistry } from '../shared/sabs.js';
import { COMPLETE, MAIN, PANICKED, runnerOf } from '../shared/slot.js';
import { codeKeyOf } from '../task.js';
import type { PanicReport } from '../../workers/worker.js';
import { WorkerPool } from './pool.js';
import { ServerHub } from '../server/hub.js';
import { recoverWorker } from './recovery.js';
import { Overflow } from './overflow.js';
import { SpinWindow } from '../shared/spin-window.js';

/** One worker's counters, in {@link RuntimeMetrics}. */
export interface WorkerMetrics {
  /** Tasks this worker ran (including nested tasks it ran without publishing them). */
  tasksRun: number;
  /** Tasks it took from other workers' deques. */
  steals: number;
  /** Tasks other workers took from its deque. */
  stolenFrom: number;
  /** Times it parked (slept on its futex). */
  parks: number;
  /** Tasks in its deques now: shared plus private. */
  localDepth: number;
  /** Tasks it took from the injector. */
  injected: number;
  /** Nested tasks it ran at their join, never published. */
  inlineJoins: number;
  /** Connections this worker accepted (`Runtime.listen`), ever; a replacement worker continues the count. */
  connectionsAccepted: number;
  /** Connections open on this worker now. */
  connectionsOpen: number;
}

/** What {@link Runtime.metrics} reports: a snapshot of the counters. */
export interface RuntimeMetrics {
  /** Per worker, by index. */
  workers: WorkerMetrics[];
  /** Tasks in the injector now. */
  injectorDepth: number;
  /** Tasks spawned on this thread that wait for a free slot. */
  overflowDepth: number;
  /** Tasks spawned from this thread. */
  spawned: number;
  /** Tasks spawned from this thread that have finished. */
  completed: number;
  /** Tasks spawned by tasks (nested) that are not finished, anywhere in the runtime. */
  live: number;
  /** Worker threads that died (process.exit, a crash, out of memory, a forced abort) and were replaced. */
  workerDeaths: number;
}

/** Internal settings tests use (tiny capacities, fault points): `new Runtime({ [kInternal]: {...} })`. */
export interface InternalOptions {
  slots?: number;
  dequeCapacity?: number;
  fault?: FaultSpec;
}

/** The drain wakes idle workers at least once per this many tasks it publishes. */
const ANNOUNCE_EVERY = 64;

/**
 * How long the main thread busy-waits for a completion before it sleeps in
 * `waitAsync`, while its recent waits were short (`await spawn()` in a loop, a
 * request handler awaiting a small task). A completion then costs the worker
 * no notify and the main thread no wake-up (~10-20 µs); the spin comes after a
 * `setImmediate`, so the callbacks that spawn the next task run first.
 */
const MAIN_SPIN_MS = 0.03;
/** The shortest poll, once polls keep running out (src/shared/spin-window.ts). */
const MAIN_SPIN_MIN_MS = 0.002;
/**
 * A wait that ended within this is short: the next one spins first. Longer (tasks of 50 µs and
 * more awaited one by one, long tasks): it only sleeps, so the spin never burns 30 µs per wait
 * for a completion that always comes after it.
 */
const SHORT_WAIT_MS = 2 * MAIN_SPIN_MS;

/**
 * Free slots the main thread keeps for its own next spawns (#spare), at most
 * this many, and at most a quarter of the slots (workers reserve from the free
 * ring too).
 */
const SPARE_SLOTS = 256;

/** Workers dying before they finish start-up, in a row, before the runtime gives up. */
const MAX_START_FAILURES = 3;

/** Panic watches of live runtimes, flushed once at process exit. */
const liveWatches = new Set<PanicWatch>();
let exitHook = false;

export class Engine implements HandleHost {
  readonly core: Core;
  readonly #sabs: SabRegistry;
  readonly #pool: WorkerPool;
  readonly #panics: PanicWatch;
  /** Listeners: their sockets, commands to the workers, connection counts (src/server/hub.ts). */
  readonly servers: ServerHub;
  /** The handle of each main-owned task, by slot. */
  readonly #handles: (JoinHandle<unknown> | undefined)[];
  /** Tasks waiting for a free slot (overflow.ts). */
  readonly #overflow = new Overflow();
  /** Main-owned tasks not yet settled by a completion (overflow included). */
  #outstanding = 0;
  #pumping = false;
  /** The last wait for a completion was short (SHORT_WAIT_MS): the next one spins before it sleeps. */
  #waitsShort = true;
  /** How long the next poll for a completion lasts. */
  readonly #spin = new SpinWindow(MAIN_SPIN_MS, MAIN_SPIN_MIN_MS);
  /** Tasks the drain published since it last called newWork (see #announce). */
  #unannounced = 0;
  /**
   * Slots this thread freed, FREE and in no ring, the last freed on top:
   * #reserve takes them before the free ring. The ring is first in, first out,
   * so that through it alone every spawn took the slot least recently used,
   * and a loop of `await spawn()` walked all `queueCapacity` slots (a megabyte
   * and more of slot words and payloads, cold in the cache, and a first-touch
   * page fault every 128 tasks until each page had been used once: 20–30 µs
   * each on the 2-vCPU VM, every 128th round trip). From here a loop reuses
   * one slot. Main thread only (no atomics): a slot here has no other holder
   * unless death recovery also put it in the free ring (a duplicate), and
   * whoever reserves second finds it taken (`Slots.reserve` false).
   */
  readonly #spare: Int32Array;
  #spares = 0;
  readonly #keepAlive: NodeJS.Timeout;
  #quiet: (() => void)[] = [];
  #spawned = 0;
  #completed = 0;
  /** Workers that died before finishing start-up, in a row. */
  #startFailures = 0;
  /** Set when no worker will run anything again (gave up, or stopping now). */
  #workersGone = false;
  /** Set when the runtime gave up (workers cannot start): every spawn fails with it. */
  broken: Error | null = null;

  constructor(private readonly opts: ResolvedOptions, internal: InternalOptions) {
    const config = {
      slots: internal.slots ?? opts.queueCapacity,
      workers: opts.workers,
      dequeCapacity: internal.dequeCapacity ?? opts.dequeCapacity,
    };
    this.#spare = new Int32Array(Math.min(SPARE_SLOTS, config.slots >> 2));
    const buffer = new SharedArrayBuffer(Core.bytes(config));
    // The mesh of ports for SharedArrayBuffers (sabs.ts): mesh[a][b] is thread a's end towards b.
    const threads = opts.workers + 1;
    const mesh: MessagePort[][] = Array.from({ length: threads }, () => []);
    for (let a = 0; a < threads; a++) {
      for (let b = a + 1; b < threads; b++) {
        const { port1, port2 } = new MessageChannel();
        mesh[a]!.push(port1);
        mesh[b]!.push(port2);
      }
    }
    this.#sabs = new SabRegistry(0, mesh[0]!);
    this.core = new Core(buffer, globalHeap(), config, this.#sabs, true);
    this.#handles = new Array(config.slots);
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#keepAlive.unref();
    this.#panics = new PanicWatch(opts.onPanic);
    liveWatches.add(this.#panics);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const p of liveWatches) p.flush();
      });
    }
    this.servers = new ServerHub(this.core, opts.workers);
    this.#pool = new WorkerPool(this.core, this.#sabs, opts.resourceLimits, internal.fault ?? null, {
      died: (w, reason, started, ours, err) => this.#died(w, reason, started, ours, err),
      panic: (r) => this.#workerPanic(r),
      serverChannel: (w) => this.servers.channel(w),
    });
    for (let w = 0; w < opts.workers; w++) this.#pool.start(w, mesh[w + 1]!);
  }

  // ───────────── spawning ─────────────

  spawn(task: unknown, args: unknown[], awaitable = true): JoinHandle<unknown> {
    const core = this.core;
    const code = core.codes.idOf(codeKeyOf(task));
    core.enc.encodeArgs(args); // the Send bound: a TypeError naming the argument, before anything is counted
    const h = new JoinHandle<unknown>(nextTaskId(), this, awaitable);
    this.#outstanding++;
    this.#spawned++;
    const slot = this.#overflow.size === 0 ? this.#reserve() : -1;
    if (slot === -1) this.#overflow.push(code, core.enc.buf, core.enc.pos, h);
    else {
      this.#publish(slot, code, core.enc.buf, 0, core.enc.pos, h);
      core.idle.newWork();
    }
    if (!this.#pumping) this.#pump();
    return h;
  }

  /** A free slot, reserved (slot.ts), or -1. Stale duplicates are dropped. */
  #reserve(): number {
    const { free, slots } = this.core;
    while (this.#spares > 0) {
      const i = this.#spare[--this.#spares]!;
      if (slots.reserve(i)) return i;
    }
    for (;;) {
      const i = free.pop();
      if (i === -1 || slots.reserve(i)) return i;
    }
  }

  #publish(slot: number, code: number, src: Uint8Array, at: number, len: number, h: JoinHandle<unknown>): void {
    const core = this.core;
    core.slots.writePayload(slot, src, at, len);
    core.slots.publish(slot, MAIN, code, h.id);
    this.#handles[slot] = h;
    h._slot = slot;
    // safety: the caller calls idle.newWork() after this push (or after the last of a batch of them).
    core.injector.push(slot);
  }

  // ───────────── completions ─────────────

  #pump(): void {
    this.#pumping = true;
    this.#keepAlive.ref();
    this.#drive();
  }

  #isQuiet(): boolean {
    return this.#outstanding === 0 && (this.#workersGone || Atomics.load(this.core.ctl, H_LIVE) === 0);
  }

  /** Set while #drive waits out its setImmediate: it resumes at the poll. */
  #yielded = false;
  /** When the current wait for a completion began (performance.now()). */
  #waitStart = 0;

  /**
   * Drains completions until nothing is live, waiting with `waitAsync` in
   * between. A loop on callbacks bound once, not an async function: a round
   * trip then makes no promise of the loop's own (an async call and a
   * `new Promise(setImmediate)` per wait were about 300 of the 550 bytes of
   * garbage the loop made per `await spawn()`).
   */
  readonly #drive = (): void => {
    const core = this.core;
    const ctl = core.ctl;
    for (;;) {
      if (this.#yielded) {
        // Back from the setImmediate (the code that spawns the next task has run): poll before sleeping.
        this.#yielded = false;
        if (this.#spinForCompletion(performance.now() + this.#spin.next())) {
          this.#spin.hit();
          continue;
        }
        this.#spin.miss();
      } else {
        this.#drain();
        if (this.#isQuiet()) break;
        this.#waitStart = performance.now();
        if (this.#waitsShort && this.#overflow.size === 0) {
          this.#yielded = true;
          setImmediate(this.#drive);
          return;
        }
      }
      Atomics.store(ctl, H_MAIN_WAIT, 1);
      // safety: re-check after announcing the wait: a worker that pushed before
      // it could see the flag is found here (Dekker, as in idle.ts).
      if (core.mainRing.len() > 0 || this.#isQuiet()) {
        Atomics.store(ctl, H_MAIN_WAIT, 0);
        continue;
      }
      // While tasks wait here for slots, look again now and then: slots freed
      // by workers' own tasks do not wake the main thread.
      const r = Atomics.waitAsync(ctl, H_MAIN_WAIT, 1, this.#overflow.size > 0 ? 1 : Infinity);
      if (r.async) {
        void r.value.then(this.#woke);
        return;
      }
      this.#waitsShort = performance.now() - this.#waitStart < SHORT_WAIT_MS;
    }
    this.#pumping = false;
    this.#keepAlive.unref();
    const quiet = this.#quiet;
    this.#quiet = [];
    for (const q of quiet) q();
  };

  /** The `waitAsync` of #drive ended. */
  readonly #woke = (): void => {
    this.#waitsShort = performance.now() - this.#waitStart < SHORT_WAIT_MS;
    this.#drive();
  };

  /** Polls the completion ring until `until` (a performance.now() time); true when something is there. */
  #spinForCompletion(until: number): boolean {
    const ring = this.core.mainRing;
    do {
      for (let i = 0; i < 64; i++) if (ring.len() > 0) return true;
    } while (performance.now() < until);
    return ring.len() > 0 || this.#isQuiet();
  }

  #drain(): void {
    const core = this.core;
    for (let i = core.mainRing.pop(); i !== -1; i = core.mainRing.pop()) this.#complete(i);
    // Publish waiting tasks into slots other threads freed.
    while (this.#overflow.size > 0) {
      const slot = this.#reserve();
      if (slot === -1) break;
      if (!this.#publishWaiting(slot)) {
        this.#freeSlot(slot);
        break;
      }
    }
    if (this.#unannounced > 0) this.#announce();
  }

  /**
   * Tells idle workers about the tasks the drain published (idle.ts newWork).
   * Once per {@link ANNOUNCE_EVERY} publishes and at the end of a drain, not
   * per task: while a woken worker is on its way, every newWork would read
   * each worker's park word again (the worker still counts as sleeping).
   */
  #announce(): void {
    this.#unannounced = 0;
    this.core.idle.newWork();
  }

  /**
   * Publishes the oldest waiting task into `slot` (RESERVED, ours). False if
   * none waits; tasks aborted while waiting are dropped on the way (they never run).
   */
  #publishWaiting(slot: number): boolean {
    const ov = this.#overflow;
    while (ov.size > 0) {
      const h = ov.headHandle();
      if (h.isFinished()) {
        ov.shift();
        this.#outstanding--;
        this.#completed++;
        continue;
      }
      this.#publish(slot, ov.headCode(), ov.arena, ov.headAt(), ov.headLen(), h);
      ov.shift();
      if (++this.#unannounced === ANNOUNCE_EVERY) this.#announce();
      return true;
    }
    return false;
  }

  /** RESERVED or TAKEN slot back: to this thread's spares (#spare) while they have room, else to everyone through the free ring. */
  #freeSlot(i: number): void {
    this.core.slots.release(i);
    if (this.#spares < this.#spare.length) this.#spare[this.#spares++] = i;
    else this.core.free.push(i);
  }

  /** Takes the outcome in slot i (unless it is a stale duplicate), settles its handle, releases the slot. */
  #complete(i: number): void {
    const core = this.core;
    const out = core.slots.take(i, MAIN);
    if (out === -1) return; // a stale duplicate (recovery.ts): already taken
    const h = this.#handles[i];
    this.#handles[i] = undefined;
    if (h !== undefined) {
      h._slot = -1;
      if (!h.isFinished()) {
        try {
          if (out === COMPLETE) h._ok(core.decodeValue(i));
          else if (out === PANICKED) h._err(joinError(h.id, 'panic', core.decodeValue(i)));
          else h._err(joinError(h.id, 'cancelled'));
        } catch (e) {
          h._err(joinError(h.id, 'panic', e));
        }
      }
    }
    this.#outstanding--;
    this.#completed++;
    // A task waits for a slot: it gets this one directly (slot.ts, recycle).
    if (this.#overflow.size > 0) {
      core.slots.recycle(i);
      if (this.#publishWaiting(i)) return;
    }
    this.#freeSlot(i);
  }

  /** Wakes the completion loop (it re-checks whether anything is live). */
  wakeDrive(): void {
    const ctl = this.core.ctl;
    if (Atomics.compareExchange(ctl, H_MAIN_WAIT, 1, 0) === 1) Atomics.notify(ctl, H_MAIN_WAIT);
  }

  /** Resolves once no task is live on this runtime. */
  whenQuiet(): Promise<void> {
    if (!this.#pumping && this.#isQuiet()) return Promise.resolve();
    if (!this.#pumping) this.#pump();
    return new Promise((resolve) => this.#quiet.push(resolve));
  }

  // ───────────── HandleHost: main-thread handles ─────────────

  abort(h: JoinHandle<unknown>, opts?: AbortOptions, reason?: JoinError): void {
    const slot = h._slot;
    if (opts?.force) {
      const grace = opts.grace ?? 1000;
      if (typeof grace !== 'number' || !(grace >= 0)) throw rangeError(ERR_OPTION('grace', 'a number of milliseconds ≥ 0', grace));
    }
    // A task waiting in the overflow is dropped when the drain reaches it.
    if (slot >= 0) this.core.requestAbort(slot);
    h._err(reason ?? joinError(h.id, 'cancelled'));
    if (opts?.force && slot >= 0) setTimeout(() => this.#forceIfStillRunning(h, slot), opts.grace ?? 1000).unref();
  }

  /** The grace period of `abort({ force: true })` is over: end the worker if the task still runs. */
  #forceIfStillRunning(h: JoinHandle<unknown>, slot: number): void {
    if (this.#handles[slot] !== h) return; // its outcome was taken: the slot no longer holds this task
    const w = runnerOf(this.core.slots.load(slot));
    if (w < 0) return;
    this.#pool.terminate(w, `terminated by abort({ force: true }) of task ${h.id}, which did not stop within its grace period`);
  }

  join(): void {}

  unobserved(h: JoinHandle<unknown>, e: JoinError): void {
    this.#panics.unobserved(h, e);
  }

  observed(h: JoinHandle<unknown>): void {
    this.#panics.observed(h);
  }

  #workerPanic(r: PanicReport): void {
    let value: unknown = new Error(r.message);
    if (r.bytes !== null) {
      try {
        value = this.core.dec.decodeValue(r.bytes, new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), 0);
      } catch {
        // keep the message
      }
    }
    this.opts.onPanic(joinError(r.id, 'panic', value));
  }

  // ───────────── deaths ─────────────

  /** @internal Test hook: end worker w as a crash would. */
  terminateWorker(w: number, why: string): void {
    this.#pool.terminate(w, why);
  }

  #died(w: number, reason: string, started: boolean, ours: boolean, err: Error | undefined): void {
    recoverWorker(this.core, w, reason);
    this.servers.died(w);
    // A worker we terminated ourselves says nothing about whether workers can start.
    this.#startFailures = started || ours ? 0 : this.#startFailures + 1;
    if (this.#startFailures >= MAX_START_FAILURES) {
      this.#giveUp(new Error(ERR_START_FAILED(this.#startFailures, reason), { cause: err }));
      return;
    }
    this.#pool.replace(w);
    this.wakeDrive();
  }

  /** Workers cannot start: fail everything pending and refuse new work, instead of looping. */
  #giveUp(e: Error): void {
    this.broken = e;
    this.#workersGone = true;
    this.#failPending((h) => joinError(h.id, 'panic', e, `task ${h.id} cannot run: ${e.message}`));
    this.#pool.stopping = true;
    this.#pool.terminateAll();
    this.wakeDrive();
  }

  /** Settles every main-owned task not yet finished with `why(handle)` (the workers are going away). */
  #failPending(why: (h: JoinHandle<unknown>) => JoinError): void {
    const fail = (h: JoinHandle<unknown> | undefined): void => {
      if (h !== undefined && !h.isFinished()) h._err(why(h));
    };
    for (let i = 0; i < this.#handles.length; i++) {
      fail(this.#handles[i]);
      this.#handles[i] = undefined;
    }
    for (const h of this.#overflow.handles()) fail(h);
    this.#overflow.clear();
    this.#outstanding = 0;
  }

  // ───────────── shutdown ─────────────

  /** Graceful: lets the workers finish what is queued, then exit. */
  async stopWhenQuiet(): Promise<void> {
    await this.whenQuiet();
    this.#keepAlive.ref(); // workers are unref'd: hold the process open until they have exited
    this.#pool.stopping = true;
    Atomics.store(this.core.ctl, H_SHUTDOWN, 1);
    this.core.idle.wakeAll();
    await this.#pool.allExited();
    this.#closedDown();
  }

  #stopNow: Promise<void> | null = null;

  /** At once: every unfinished task is cancelled, the workers are terminated. */
  stopNow(): Promise<void> {
    this.#stopNow ??= (async () => {
      this.#keepAlive.ref();
      this.#pool.stopping = true;
      this.#workersGone = true;
      this.servers.abandon();
      this.#failPending((h) => joinError(h.id, 'cancelled', undefined, ERR_CANCELLED_BY_SHUTDOWN(h.id)));
      Atomics.store(this.core.ctl, H_SHUTDOWN, 1);
      this.#pool.terminateAll();
      await this.#pool.allExited();
      this.wakeDrive();
      this.#closedDown();
    })();
    return this.#stopNow;
  }

  #closedDown(): void {
    clearInterval(this.#keepAlive);
    this.#sabs.close();
    // Workers flushed their unobserved panics before exiting; now ours.
    this.#panics.flush();
    liveWatches.delete(this.#panics);
  }

  // ───────────── metrics ─────────────

  metrics(): RuntimeMetrics {
    const core = this.core;
    const ctl = core.ctl;
    const workers: WorkerMetrics[] = [];
    for (let w = 0; w < this.opts.workers; w++) {
      const b = core.lay.worker(w);
      const conns = this.servers.counts(w);
      workers.push({
        tasksRun: Atomics.load(ctl, b + W_TASKS_RUN),
        steals: Atomics.load(ctl, b + W_STEALS),
        stolenFrom: Atomics.load(ctl, b + W_STOLEN_FROM),
        parks: Atomics.load(ctl, b + W_PARKS),
        localDepth: core.stealers[w]!.len() + Atomics.load(ctl, b + W_PRIVATE),
        injected: Atomics.load(ctl, b + W_INJECTED),
        inlineJoins: Atomics.load(ctl, b + W_LOCAL_HITS),
        connectionsAccepted: conns.accepted,
        connectionsOpen: conns.open,
      });
    }
    return {
      workers,
      injectorDepth: core.injector.len(),
      overflowDepth: this.#overflow.size,
      spawned: this.#spawned,
      completed: this.#completed,
      live: Atomics.load(ctl, H_LIVE),
      workerDeaths: this.#pool.deaths,
    };
  }
}
