/**
 * SharedArrayBuffers by id, so that one passed to a task (or returned) arrives
 * as the same memory on whichever thread decodes it.
 *
 * A buffer cannot be written into a queue: it must be posted, once, to every
 * thread that may decode it, *before* the task or result that names it is
 * published. The runtime's threads (main + workers) are joined by a full mesh
 * of MessageChannels made by the main thread before any worker starts, so a
 * message posted early is never lost. The first time a thread encodes a buffer
 * it names it (`(thread + 1) << 20 | n`, unique without coordination) and
 * posts it to every peer. Node enqueues a message into the receiving port when
 * it is posted, so a decoder that meets an unknown id drains its ports
 * synchronously (`receiveMessageOnPort`) and finds it. (A BroadcastChannel
 * would be simpler, but across threads it delivers only through the event
 * loop, which a decoder cannot wait for.)
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { SabTable } from './codec.js';

export interface SabMessage {
  id: number;
  sab: SharedArrayBuffer;
}

export class SabRegistry implements SabTable {
  private readonly byId = new Map<number, SharedArrayBuffer>();
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  /** Buffers this thread has already posted to its peers. */
  private readonly posted = new WeakSet<SharedArrayBuffer>();
  private next = 0;

  /**
   * @param thread 0 for the main thread, w + 1 for worker w
   * @param peers this thread's end of its channel to each other thread
   */
  constructor(
    private readonly thread: number,
    private readonly peers: (MessagePort | null)[],
    known: SabMessage[] = [],
  ) {
    for (const m of known) this.learn(m);
    openRegistries.push(this); // channels-wiring: values sent through channels name buffers with this thread's registry
  }

  idOf(sab: SharedArrayBuffer): number {
    let id = this.ids.get(sab);
    if (id === undefined) {
      id = ((this.thread + 1) << 20) | this.next++;
      this.learn({ id, sab });
    }
    // A buffer learned from one peer is re-posted to all: the next decoder may
    // be a thread the original sender never told.
    if (!this.posted.has(sab)) {
      this.posted.add(sab);
      for (const p of this.peers) p?.postMessage({ id, sab } satisfies SabMessage);
    }
    return id;
  }

  get(id: number): SharedArrayBuffer {
    for (;;) {
      const sab = this.byId.get(id);
      if (sab !== undefined) return sab;
      let any = false;
      for (const p of this.peers) {
        if (p === null) continue;
        for (let m = receiveMessageOnPort(p); m !== undefined; m = receiveMessageOnPort(p)) {
          this.learn(m.message as SabMessage);
          any = true;
        }
      }
      if (!any) throw new Error(`spindle: SharedArrayBuffer #${id} was never posted to this thread`);
    }
  }

  private learn(m: SabMessage): void {
    this.byId.set(m.id, m.sab);
    this.ids.set(m.sab, m.id);
  }

  /** Peer k's port is replaced (its worker died and was replaced). Buffers are posted to it afresh. */
  replacePeer(k: number, port: MessagePort): void {
    this.peers[k]?.close();
    this.peers[k] = port;
    for (const [id, sab] of this.byId) port.postMessage({ id, sab } satisfies SabMessage);
  }

  close(): void {
    for (const p of this.peers) p?.close();
    const i = openRegistries.indexOf(this); // channels-wiring
    if (i >= 0) openRegistries.splice(i, 1);
  }
}

// channels-wiring: the registries open in this thread (a worker has one; the
// main thread one per live runtime). Channel values carry SharedArrayBuffers
// through the newest one, so they reach every thread of that runtime.
const openRegistries: SabRegistry[] = [];

/** This thread's newest open registry (undefined outside a runtime). */
export function threadSabs(): SabRegistry | undefined {
  return openRegistries[openRegistries.length - 1];
}
