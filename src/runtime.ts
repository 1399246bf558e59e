/**
 * The main-thread side of a runtime: it starts the workers, publishes tasks
 * spawned here into the injector, and drains the completion ring to settle
 * their handles.
 *
 * The main thread never blocks: it waits for completions with
 * `Atomics.waitAsync`. A pending `waitAsync` does not keep Node's event loop
 * alive, so while any task is live the runtime holds a referenced timer
 * (`keepAlive`) and drops it when none is: an idle runtime never keeps the
 * process alive, a busy one always does.
 */
import { MessageChannel, type Worker, type MessagePort } from 'node:worker_threads';
import {
  ErrorCode, // consumers-wiring
  SpindleError, // consumers-wiring
  JoinError,
  ERR_RUNTIME_IN_WORKER,
  ERR_SPAWN_AFTER_SHUTDOWN,
  ERR_START_FAILED,
  ERR_CANCELLED_BY_SHUTDOWN,
  ERR_WORKER_DIED,
} from './errors.js';
import { inRuntimeWorker } from './context.js'; // consumers-wiring: was workerHost (a worker is one from its first line)
import { checkWorkerSetup, startRuntimeWorker } from './worker-spawn.js'; // consumers-wiring
import { JoinHandle, withOptions, type AbortOptions, type HandleHost } from './join.js';
import {
  checkSpawnOptions,
  resolveOptions,
  type ResolvedOptions,
  type RuntimeOptions,
  type ShutdownOptions,
  type SpawnOptions,
} from './options.js';
import { ERR_OPTION } from './errors.js';
import { codeKeyOf } from './task.js';
import { COMPLETE, Core, MAIN, PANICKED, QUEUED, STATE_MASK, runnerOf } from './shared/core.js';
import { globalHeap, watchWorker } from './shared/heap.js';
import {
  H_LIVE,
  H_MAIN_WAIT,
  H_SHUTDOWN,
  SLOT_CODE,
  SLOT_OWNER,
  SLOT_STATE,
  W_HAND,
  W_INJECTED,
  W_LOCAL_HITS,
  W_LOCAL_LIVE,
  W_PARKS,
  W_PRIVATE,
  W_STARTED,
  W_STEALS,
  W_STOLEN_FROM,
  W_TASKS_RUN,
} from './shared/layout.js';
import { SabRegistry } from './shared/sabs.js';

/** A task waiting on the main thread for a free slot; its payload is in the overflow arena. */
interface Pending {
  code: number;
  at: number;
  len: number;
  h: JoinHandle<unknown>;
}

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
  /** Tasks live anywhere in the runtime (spawned and not finished, nested ones included). */
  live: number;
}

type Fn = (...args: any[]) => unknown;

/** @internal */
export const kTerminateWorker = Symbol('spindle.terminateWorker');

/** Workers dying before they finish start-up, in a row, before the runtime gives up. */
const MAX_START_FAILURES = 3;
let defaultRuntime: Runtime | null = null;

/**
 * A pool of worker threads with work-stealing deques in shared memory.
 *
 * ```ts
 * const rt = new Runtime({ workers: 4 });
 * const n = await rt.spawn(fib, 30);
 * await rt.shutdown();
 * ```
 */
export class Runtime implements AsyncDisposable {
  readonly #opts: ResolvedOptions;
  readonly #core: Core;
  readonly #sabs: SabRegistry;
  readonly #workers: Worker[] = [];
  /** Resolves when the current worker at each index has exited. */
  readonly #exited: Promise<void>[] = [];
  /** The handle of each main-owned task, by slot. */
  readonly #handles: (JoinHandle<unknown> | undefined)[];
  #overflow: Pending[] = [];
  #overflowHead = 0;
  /** Encoded payloads of the overflow, back to back (one buffer, not one per task: GC). */
  #arena = new Uint8Array(1 << 16);
  #arenaUsed = 0;
  /** Main-owned tasks not yet settled by a completion (overflow included). */
  #outstanding = 0;
  #pumping = false;
  readonly #keepAlive: NodeJS.Timeout;
  #state: 'running' | 'closing' | 'closed' = 'running';
  #closed: Promise<void> | null = null;
  #stopNowPromise: Promise<void> | null = null;
  #quiet: (() => void)[] = [];
  #seq = 0;
  #spawned = 0;
  #completed = 0;
  readonly #host: HandleHost;
  readonly #buffer: SharedArrayBuffer;
  /** The last 'error' event of each worker: why it died, if it dies. */
  readonly #errors: (Error | undefined)[] = [];
  /** Set once worker exits are expected (shutdown). */
  #stopping = false;
  /** Workers that died before finishing start-up, in a row. */
  #startFailures = 0;
  /** Set when the runtime gave up (workers cannot start): every spawn fails with it. */
  #broken: Error | null = null;
  readonly #unobserved: FinalizationRegistry<JoinError>;

  constructor(options?: RuntimeOptions) {
    if (inRuntimeWorker()) throw new SpindleError(ErrorCode.WRONG_CONTEXT, ERR_RUNTIME_IN_WORKER); // consumers-wiring: code for the bundle check
    checkWorkerSetup(); // consumers-wiring: fails at once where workers cannot start (a CommonJS bundle)
    const opts = (this.#opts = resolveOptions(options));
    const config = { slots: opts.queueCapacity, workers: opts.workers, dequeCapacity: opts.dequeCapacity };
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
    this.#core = new Core(buffer, globalHeap(), config, this.#sabs, true);
    this.#handles = new Array(config.slots);
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#keepAlive.unref();
    this.#unobserved = new FinalizationRegistry((e) => this.#opts.onPanic(e));
    const rt = this;
    this.#host = {
      abort: (h, o, reason) => rt.#abort(h, o, reason),
      join: () => {},
      unobserved: (h, e) => rt.#unobserved.register(h, e, h),
      observed: (h) => rt.#unobserved.unregister(h),
    };
    this.#buffer = buffer;
    for (let w = 0; w < opts.workers; w++) this.#startWorker(w, mesh[w + 1]!);
    if (defaultRuntime === null) defaultRuntime = this;
  }

  /**
   * The runtime that top-level `spawn()` uses: the first live runtime created
   * on this thread, or else a new one with `os.availableParallelism()` workers.
   */
  static default(): Runtime {
    return defaultRuntime ?? new Runtime();
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.#opts.workers;
  }

  /**
   * Runs `task(...args)` on a worker and returns its `JoinHandle` at once.
   * Throws `TypeError` if an argument cannot cross threads (naming which),
   * and `Error` after `shutdown()`.
   */
  spawn<A extends unknown[], R>(task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
    if (this.#state !== 'running') throw this.#broken ?? new Error(ERR_SPAWN_AFTER_SHUTDOWN);
    const core = this.#core;
    const code = core.codes.idOf(codeKeyOf(task));
    core.enc.encodeArgs(args);
    const h = new JoinHandle<unknown>(++this.#seq * 2048, this.#host);
    this.#outstanding++;
    this.#spawned++;
    const slot = this.#overflowHead === this.#overflow.length ? core.free.pop() : -1;
    if (slot === -1) this.#defer(code, h);
    else this.#publish(slot, code, core.enc.buf, 0, core.enc.pos, h);
    if (!this.#pumping) this.#pump();
    return h as JoinHandle<Awaited<R>>;
  }

  /**
   * `spawn` with options: an external `AbortSignal`, and a `timeout` in ms
   * covering queued and running time. Either cancels the task.
   */
  spawnWith<A extends unknown[], R>(options: SpawnOptions, task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
    checkSpawnOptions(options);
    return withOptions(this.spawn(task, ...args), options);
  }

  #defer(code: number, h: JoinHandle<unknown>): void {
    const enc = this.#core.enc;
    let arena = this.#arena;
    if (this.#arenaUsed + enc.pos > arena.length) {
      let size = arena.length * 2;
      while (size < this.#arenaUsed + enc.pos) size *= 2;
      arena = new Uint8Array(size);
      arena.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = arena;
    }
    arena.set(enc.buf.subarray(0, enc.pos), this.#arenaUsed);
    this.#overflow.push({ code, at: this.#arenaUsed, len: enc.pos, h });
    this.#arenaUsed += enc.pos;
  }

  #publish(slot: number, code: number, src: Uint8Array, at: number, len: number, h: JoinHandle<unknown>): void {
    const core = this.#core;
    const ctl = core.ctl;
    const base = core.lay.slot(slot);
    Atomics.store(ctl, base + SLOT_STATE, QUEUED);
    Atomics.store(ctl, base + SLOT_OWNER, MAIN);
    Atomics.store(ctl, base + SLOT_CODE, code);
    core.writePayload(slot, src, at, len);
    core.setId(slot, h.id);
    this.#handles[slot] = h;
    h._slot = slot;
    core.injector.push(slot);
    core.idle.notifyOne();
  }

  #pump(): void {
    this.#pumping = true;
    this.#keepAlive.ref();
    void this.#drive();
  }

  /** Drains completions until nothing is live, waiting with `waitAsync` in between. */
  async #drive(): Promise<void> {
    const core = this.#core;
    const ctl = core.ctl;
    for (;;) {
      this.#drain();
      if (this.#outstanding === 0 && Atomics.load(ctl, H_LIVE) === 0) break;
      Atomics.store(ctl, H_MAIN_WAIT, 1);
      // safety: re-check after announcing the wait: a worker that pushed before
      // it could see the flag is found here (Dekker, as in idle.ts).
      if (core.mainRing.len() > 0 || (this.#outstanding === 0 && Atomics.load(ctl, H_LIVE) === 0)) {
        Atomics.store(ctl, H_MAIN_WAIT, 0);
        continue;
      }
      // While tasks wait here for slots, look again now and then: slots freed
      // by workers' own tasks do not wake the main thread.
      const r = Atomics.waitAsync(ctl, H_MAIN_WAIT, 1, this.#overflowHead < this.#overflow.length ? 1 : Infinity);
      if (r.async) await r.value;
    }
    this.#pumping = false;
    this.#keepAlive.unref();
    const quiet = this.#quiet;
    this.#quiet = [];
    for (const q of quiet) q();
  }

  #drain(): void {
    const core = this.#core;
    for (let i = core.mainRing.pop(); i !== -1; i = core.mainRing.pop()) this.#complete(i);
    // Publish waiting tasks into the slots that freed up.
    const ov = this.#overflow;
    while (this.#overflowHead < ov.length) {
      const p = ov[this.#overflowHead]!;
      if (p.h.isFinished()) {
        // Aborted while waiting: it never runs.
        ov[this.#overflowHead++] = undefined as never;
        this.#outstanding--;
        this.#completed++;
        continue;
      }
      const slot = core.free.pop();
      if (slot === -1) break;
      ov[this.#overflowHead++] = undefined as never;
      this.#publish(slot, p.code, this.#arena, p.at, p.len, p.h);
    }
    if (this.#overflowHead === ov.length && ov.length > 0) {
      this.#overflow = [];
      this.#overflowHead = 0;
      this.#arenaUsed = 0;
    }
  }

  #complete(i: number): void {
    const core = this.#core;
    const h = this.#handles[i];
    this.#handles[i] = undefined;
    if (h !== undefined && !h.isFinished()) {
      const state = Atomics.load(core.ctl, core.lay.slot(i) + SLOT_STATE) & STATE_MASK;
      try {
        if (state === COMPLETE) h._ok(core.decodeValue(i));
        else if (state === PANICKED) h._err(new JoinError(h.id, 'panic', core.decodeValue(i)));
        else h._err(new JoinError(h.id, 'cancelled'));
      } catch (e) {
        h._err(new JoinError(h.id, 'panic', e));
      }
    }
    core.freeSlot(i);
    this.#outstanding--;
    this.#completed++;
  }

  #abort(h: JoinHandle<unknown>, opts?: AbortOptions, reason?: JoinError): void {
    const slot = h._slot;
    // A task waiting in the overflow is dropped when the drain reaches it.
    if (slot >= 0) this.#core.requestAbort(slot);
    h._err(reason ?? new JoinError(h.id, 'cancelled'));
    if (opts?.force && slot >= 0) {
      const grace = opts.grace ?? 1000;
      if (typeof grace !== 'number' || !(grace >= 0)) throw new RangeError(ERR_OPTION('grace', 'a number of milliseconds ≥ 0', grace));
      setTimeout(() => this.#forceIfStillRunning(h, slot), grace).unref();
    }
  }

  /** The grace period of `abort({ force: true })` is over: end the worker if the task still runs. */
  #forceIfStillRunning(h: JoinHandle<unknown>, slot: number): void {
    const core = this.#core;
    const base = core.lay.slot(slot);
    // Its completion not drained yet means the slot still holds this task.
    if (this.#handles[slot] !== h) return;
    const w = runnerOf(Atomics.load(core.ctl, base + SLOT_STATE));
    if (w < 0) return;
    this.#terminate(w, `terminated by abort({ force: true }) of task ${h.id}, which did not stop within its grace period`);
  }

  #terminate(w: number, why: string): void {
    this.#errors[w] = Object.assign(new Error(why), { name: 'Terminated' });
    void this.#workers[w]!.terminate();
  }

  /** @internal Test hook: end worker w as a crash would. */
  [kTerminateWorker](w: number): void {
    this.#terminate(w, 'terminated by a test');
  }

  #startWorker(w: number, peers: MessagePort[]): void {
    const core = this.#core;
    Atomics.store(core.ctl, core.lay.worker(w) + W_STARTED, 0);
    // Nothing in hand until the worker says otherwise (a fresh buffer holds 0, a valid index).
    Atomics.store(core.ctl, core.lay.worker(w) + W_HAND, -1);
    // consumers-wiring: no entry file, filtered execArgv, loader hints (worker-spawn.ts); was new Worker(WORKER_URL, {...})
    const worker = startRuntimeWorker({
      workerData: { buffer: this.#buffer, heap: core.heap.buffer, config: core.config, index: w, peers },
      transferList: peers,
      resourceLimits: this.#opts.resourceLimits,
    });
    worker.unref();
    // Locks a dying worker holds become poisoned instead of blocking the others forever.
    watchWorker(worker, core.heap);
    worker.on('error', (e) => {
      this.#errors[w] = e;
    });
    this.#exited[w] = new Promise((resolve) =>
      worker.on('exit', (code) => {
        resolve();
        this.#onExit(w, worker, code);
      }),
    );
    this.#workers[w] = worker;
  }

  /**
   * A worker ended. Unless we were stopping it: fail the tasks that were
   * running there, re-queue what it held, and start a replacement — or, if
   * workers keep dying during start-up, give up and fail all pending work.
   */
  #onExit(w: number, worker: Worker, code: number): void {
    if (this.#workers[w] !== worker || this.#stopping) return;
    const err = this.#errors[w];
    this.#errors[w] = undefined;
    const reason =
      err === undefined ? `it exited with code ${code}` : err.name === 'Terminated' ? err.message : `${err.name}: ${err.message}`;
    const core = this.#core;
    const started = Atomics.load(core.ctl, core.lay.worker(w) + W_STARTED) === 1;
    this.#recover(w, reason);
    // A worker we terminated ourselves says nothing about whether workers can start.
    const ours = err?.name === 'Terminated';
    this.#startFailures = started || ours ? 0 : this.#startFailures + 1;
    if (this.#startFailures >= MAX_START_FAILURES) {
      this.#giveUp(new Error(ERR_START_FAILED(this.#startFailures, reason), { cause: err }));
      return;
    }
    // A replacement talks to the main thread only: the other workers' ports
    // to the dead one are gone (see sabs.ts).
    const { port1, port2 } = new MessageChannel();
    this.#sabs.replacePeer(w, port1);
    this.#startWorker(w, [port2]);
    this.#wakeDrive();
  }

  /** Settles or re-queues everything the dead worker w was responsible for. */
  #recover(w: number, reason: string): void {
    const core = this.#core;
    const ctl = core.ctl;
    const lay = core.lay;
    const wbase = lay.worker(w);
    const died = (): Error =>
      Object.assign(new Error(ERR_WORKER_DIED(w, reason)), { code: 'ERR_WORKER_DIED', worker: w });
    const liveDone = (n: number): void => {
      if (n > 0) Atomics.sub(ctl, H_LIVE, n);
    };
    // 1. The tasks it was running fail: the worker died under them.
    for (let i = 0; i < lay.slots; i++) {
      const base = lay.slot(i);
      if (runnerOf(Atomics.load(ctl, base + SLOT_STATE)) !== w) continue;
      const owner = Atomics.load(ctl, base + SLOT_OWNER);
      // The slot leaves RUNNING here, so that a later death of the worker at
      // this index does not find it again.
      Atomics.store(ctl, base + SLOT_STATE, PANICKED);
      if (owner === MAIN) {
        const h = this.#handles[i];
        this.#handles[i] = undefined;
        if (h !== undefined && !h.isFinished()) h._err(new JoinError(h.id, 'panic', died()));
        core.freeSlot(i);
        this.#outstanding--;
        this.#completed++;
      } else if (owner === w) {
        core.freeSlot(i); // its spawner died with it
        liveDone(1);
      } else {
        core.releasePayload(i);
        core.enc.encodeValue(died(), 'the error');
        core.writeEncoded(i);
        core.inboxes[owner]!.push(i);
        core.idle.wake(owner);
        liveDone(1);
      }
    }
    // 2. What it held but had not started runs elsewhere. (An index can end up
    // in two queues this way; the QUEUED → RUNNING CAS lets only one run it.)
    const hand = Atomics.exchange(ctl, wbase + W_HAND, -1);
    if (hand >= 0 && (Atomics.load(ctl, lay.slot(hand) + SLOT_STATE) & STATE_MASK) === QUEUED) core.injector.push(hand);
    const dq = core.deques[w]!;
    while (dq.len() > 0) {
      const s = dq.steal();
      if (s !== -1) core.injector.push(s);
    }
    // 3. Tasks that lived only in its heap (private deque, run from it) are gone
    // with it, and so is the one unit of H_LIVE it held for them (scheduler.ts).
    if (Atomics.exchange(ctl, wbase + W_LOCAL_LIVE, 0) > 0) liveDone(1);
    // 4. Completions for tasks it spawned: nobody waits for them now.
    const inbox = core.inboxes[w]!;
    for (let i = inbox.pop(); i !== -1; i = inbox.pop()) core.freeSlot(i);
    core.idle.forget(w);
    core.idle.notifyOne();
  }

  /** Workers cannot start: fail everything pending and refuse new work, instead of looping. */
  #giveUp(e: Error): void {
    this.#broken = e;
    this.#state = 'closing';
    this.#failPending((h) => new JoinError(h.id, 'panic', e, `task ${h.id} cannot run: ${e.message}`));
    this.#stopping = true;
    for (const wk of this.#workers) void wk.terminate();
    this.#wakeDrive();
  }

  /** Settles every task not yet finished with `why(handle)` and forgets them (the workers are going away). */
  #failPending(why: (h: JoinHandle<unknown>) => JoinError): void {
    const fail = (h: JoinHandle<unknown> | undefined): void => {
      if (h !== undefined && !h.isFinished()) h._err(why(h));
    };
    for (let i = 0; i < this.#handles.length; i++) {
      fail(this.#handles[i]);
      this.#handles[i] = undefined;
    }
    for (let k = this.#overflowHead; k < this.#overflow.length; k++) fail(this.#overflow[k]!.h);
    this.#overflow = [];
    this.#overflowHead = 0;
    this.#outstanding = 0;
    Atomics.store(this.#core.ctl, H_LIVE, 0);
  }

  /** Wakes the completion loop (it re-checks whether anything is live). */
  #wakeDrive(): void {
    const ctl = this.#core.ctl;
    if (Atomics.compareExchange(ctl, H_MAIN_WAIT, 1, 0) === 1) Atomics.notify(ctl, H_MAIN_WAIT);
  }

  /** Resolves once no task is live on this runtime. */
  #whenQuiet(): Promise<void> {
    if (!this.#pumping && Atomics.load(this.#core.ctl, H_LIVE) === 0 && this.#outstanding === 0) return Promise.resolve();
    if (!this.#pumping) this.#pump();
    return new Promise((resolve) => this.#quiet.push(resolve));
  }

  /**
   * Runs `main` and resolves with its value once `main` *and every task on
   * the runtime* (detached ones, nested ones) have finished.
   */
  async run<T>(main: (rt: this) => T | Promise<T>): Promise<T> {
    const v = await main(this);
    await this.#whenQuiet();
    return v;
  }

  /**
   * Graceful shutdown: no new tasks are accepted; queued and running tasks
   * finish; then the workers exit. With `timeout`, whatever has not finished
   * by then is cancelled as by `shutdownNow()`. Resolves when no worker
   * thread is left; every handle has settled by then.
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    const timeout = opts.timeout ?? Infinity;
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw new RangeError(ERR_OPTION('timeout', 'a number of milliseconds ≥ 0', timeout));
    if (this.#closed !== null) return this.#closed;
    this.#state = 'closing';
    if (defaultRuntime === this) defaultRuntime = null;
    this.#closed = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        this.#whenQuiet().then(() => false),
        new Promise<boolean>((resolve) => {
          if (timeout !== Infinity) timer = setTimeout(() => resolve(true), timeout);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) return this.#stopNow();
      // Workers are unref'd: hold the process open until they have exited.
      this.#keepAlive.ref();
      this.#stopping = true;
      Atomics.store(this.#core.ctl, H_SHUTDOWN, 1);
      this.#core.idle.wakeAll();
      await Promise.all(this.#exited);
      this.#closedDown();
    })();
    return this.#closed;
  }

  /**
   * Stops at once: every task not finished is cancelled (its handle rejects
   * with a `JoinError` whose `isCancelled()` is true), the workers are
   * terminated, and the promise resolves when none is left.
   */
  shutdownNow(): Promise<void> {
    if (this.#closed !== null && this.#state === 'closed') return this.#closed;
    this.#state = 'closing';
    if (defaultRuntime === this) defaultRuntime = null;
    const now = this.#stopNow();
    this.#closed ??= now;
    return now;
  }

  #stopNow(): Promise<void> {
    this.#stopNowPromise ??= (async () => {
      this.#keepAlive.ref();
      this.#stopping = true;
      this.#failPending((h) => new JoinError(h.id, 'cancelled', undefined, ERR_CANCELLED_BY_SHUTDOWN(h.id)));
      Atomics.store(this.#core.ctl, H_SHUTDOWN, 1);
      for (const w of this.#workers) void w.terminate();
      await Promise.all(this.#exited);
      this.#wakeDrive();
      this.#closedDown();
    })();
    return this.#stopNowPromise;
  }

  #closedDown(): void {
    clearInterval(this.#keepAlive);
    this.#sabs.close();
    this.#state = 'closed';
  }

  /** `await using rt = new Runtime()`: `shutdown()` when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** A snapshot of the scheduler's counters. */
  metrics(): RuntimeMetrics {
    const core = this.#core;
    const ctl = core.ctl;
    const workers: WorkerMetrics[] = [];
    for (let w = 0; w < this.#opts.workers; w++) {
      const b = core.lay.worker(w);
      workers.push({
        tasksRun: Atomics.load(ctl, b + W_TASKS_RUN),
        steals: Atomics.load(ctl, b + W_STEALS),
        stolenFrom: Atomics.load(ctl, b + W_STOLEN_FROM),
        parks: Atomics.load(ctl, b + W_PARKS),
        localDepth: core.deques[w]!.len() + Atomics.load(ctl, b + W_PRIVATE),
        injected: Atomics.load(ctl, b + W_INJECTED),
        inlineJoins: Atomics.load(ctl, b + W_LOCAL_HITS),
      });
    }
    return {
      workers,
      injectorDepth: core.injector.len(),
      overflowDepth: this.#overflow.length - this.#overflowHead,
      spawned: this.#spawned,
      completed: this.#completed,
      live: Atomics.load(ctl, H_LIVE),
    };
  }
}

export type { Fn };
