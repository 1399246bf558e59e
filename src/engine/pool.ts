/**
 * The worker pool: starts worker threads on the runtime's shared memory,
 * watches them die, and replaces them (piscina's pool, minus the messages:
 * tasks never travel by message here). What a death means for the tasks is
 * recovery.ts's job; whether to replace or give up is the engine's.
 */
import { MessageChannel, type Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import type { Core } from '../shared/core.js';
import type { FaultSpec } from '../shared/faults.js';
import { watchWorker } from '../shared/heap.js';
import { W_HAND, W_PENDING, W_STARTED } from '../shared/layout.js';
import type { SabRegistry } from '../shared/sabs.js';
import type { PanicReport } from '../../workers/worker.js';
import { startRuntimeWorker } from '../worker-spawn.js';

export interface PoolEvents {
  /** Worker w ended unexpectedly; `started`: it had finished its bootstrap; `ours`: we terminated it. */
  died(w: number, reason: string, started: boolean, ours: boolean, error: Error | undefined): void;
  /** A worker reports a panic nobody observed. */
  panic(report: PanicReport): void;
  /** Worker w is starting: its end of the listener channel (src/server/hub.ts), and the shared counters. */
  serverChannel(w: number): { port: MessagePort; words: SharedArrayBuffer };
}

export class WorkerPool {
  readonly #workers: Worker[] = [];
  /** Resolves when the current worker at each index has exited. */
  readonly #exited: Promise<void>[] = [];
  /** The last 'error' event of each worker: why it died, if it dies. */
  readonly #errors: (Error | undefined)[] = [];
  /** Set once worker exits are expected (shutdown). */
  stopping = false;
  /** Workers that died and were replaced. */
  deaths = 0;

  constructor(
    private readonly core: Core,
    private readonly sabs: SabRegistry,
    private readonly resourceLimits: ResourceLimits | undefined,
    private readonly fault: FaultSpec | null,
    private readonly events: PoolEvents,
  ) {}

  /** Starts worker w. The fault point (tests) is armed in the first worker at each index only, never in a replacement. */
  start(w: number, peers: MessagePort[], fault: FaultSpec | null = this.fault): void {
    const core = this.core;
    Atomics.store(core.ctl, core.wword(w, W_STARTED), 0);
    // Nothing in hand until the worker says otherwise (a fresh buffer holds 0, a valid index).
    Atomics.store(core.ctl, core.wword(w, W_HAND), -1);
    Atomics.store(core.ctl, core.wword(w, W_PENDING), -1);
    const servers = this.events.serverChannel(w);
    // No entry file, filtered execArgv, loader hints: worker-spawn.ts.
    const worker = startRuntimeWorker({
      workerData: { buffer: core.buffer, heap: core.heap.buffer, config: core.config, index: w, peers, fault, servers },
      transferList: [...peers, servers.port],
      resourceLimits: this.resourceLimits,
    });
    // Locks a dying worker holds become poisoned instead of blocking the others forever.
    watchWorker(worker, core.heap);
    worker.on('error', (e) => {
      this.#errors[w] = e;
    });
    worker.on('message', (m: PanicReport) => {
      if (m?.spindle === 'panic') this.events.panic(m);
    });
    this.#exited[w] = new Promise((resolve) =>
      worker.on('exit', (code) => {
        resolve();
        this.#onExit(w, worker, code);
      }),
    );
    // After the listeners: a 'message' listener refs the worker's port, and a
    // runtime must never keep the process alive by itself (the engine's keepAlive does, while busy).
    worker.unref();
    this.#workers[w] = worker;
  }

  /** Starts a replacement for worker w; it talks to the main thread only (sabs.ts). */
  replace(w: number): void {
    const { port1, port2 } = new MessageChannel();
    this.sabs.replacePeer(w, port1);
    this.deaths++;
    this.start(w, [port2], null);
  }

  #onExit(w: number, worker: Worker, code: number): void {
    if (this.#workers[w] !== worker || this.stopping) return;
    const err = this.#errors[w];
    this.#errors[w] = undefined;
    const ours = err?.name === 'Terminated';
    const reason = err === undefined ? `it exited with code ${code}` : ours ? err.message : `${err.name}: ${err.message}`;
    const started = Atomics.load(this.core.ctl, this.core.wword(w, W_STARTED)) === 1;
    this.events.died(w, reason, started, ours, err);
  }

  /** Ends worker w as a crash would, saying why. */
  terminate(w: number, why: string): void {
    this.#errors[w] = Object.assign(new Error(why), { name: 'Terminated' });
    void this.#workers[w]!.terminate();
  }

  terminateAll(): void {
    for (const wk of this.#workers) void wk.terminate();
  }

  /** Resolves when every worker thread has exited. */
  allExited(): Promise<void> {
    return Promise.all(this.#exited).then(() => {});
  }
}
