/**
 * SharedArrayBuffers by id, so that one passed to a task (or returned) arrives
 * as the same memory on whichever thread decodes it.
 *
 * A buffer cannot be written into a queue; it must be posted at least once to
 * every thread. The first time a thread encodes a buffer it gives it an id
 * (`(thread << 20) | n`, unique without coordination) and posts it on a
 * `BroadcastChannel` shared by the runtime's threads, *before* the task that
 * names the id is published. Node enqueues a broadcast into every receiver's
 * port at post time, so a decoder that meets an unknown id drains its channel
 * synchronously (`receiveMessageOnPort`) and finds it.
 */
import { BroadcastChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { SabTable } from './codec.js';

interface SabMessage {
  id: number;
  sab: SharedArrayBuffer;
}

export class BroadcastSabTable implements SabTable {
  private readonly byId = new Map<number, SharedArrayBuffer>();
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private readonly channel: BroadcastChannel;
  private next = 0;

  constructor(
    name: string,
    private readonly thread: number,
  ) {
    this.channel = new BroadcastChannel(name);
    // Nobody listens asynchronously: messages are pulled on demand, and the
    // channel must not keep the thread alive.
    (this.channel as unknown as { unref(): void }).unref();
  }

  idOf(sab: SharedArrayBuffer): number {
    let id = this.ids.get(sab);
    if (id === undefined) {
      id = ((this.thread + 1) << 20) | this.next++;
      this.ids.set(sab, id);
      this.byId.set(id, sab);
      this.channel.postMessage({ id, sab } satisfies SabMessage);
    }
    return id;
  }

  get(id: number): SharedArrayBuffer {
    let sab = this.byId.get(id);
    while (sab === undefined) {
      const m = receiveMessageOnPort(this.channel as never) as { message: SabMessage } | undefined;
      if (m === undefined) throw new Error(`spindle: SharedArrayBuffer #${id} was never broadcast to this thread`);
      this.byId.set(m.message.id, m.message.sab);
      this.ids.set(m.message.sab, m.message.id);
      if (m.message.id === id) sab = m.message.sab;
    }
    return sab;
  }

  close(): void {
    this.channel.close();
  }
}
