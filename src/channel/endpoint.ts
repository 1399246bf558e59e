/**
 * Message endpoints over spindle channels: objects with `postMessage`,
 * `addEventListener('message')` and `removeEventListener` — the `Endpoint`
 * that comlink's `wrap`/`expose` take — whose messages travel through mpsc
 * channels in the shared heap instead of a `MessagePort`. This module does not
 * import comlink (it is an optional peer); `spindle/comlink` builds the actor
 * helpers on it.
 *
 * - `endpointPair()`: two endpoints joined by two unbounded channels; pass one
 *   to a task (it is a shared handle), `expose(obj, ep)` there, `wrap(other)` here.
 * - Actor clients: each thread that holds an actor's remote has its own client
 *   endpoint; requests go into the actor's one inbox tagged with the client's
 *   id, replies come back on the client's own channel.
 *
 * An endpoint keeps the process alive only while it waits for replies to
 * requests it posted (comlink's GET/SET/APPLY/CONSTRUCT/ENDPOINT), so a
 * wrapped remote that nobody is calling does not hold the process open.
 */
import { ErrorCode, typeError } from '../errors.js';
import { RELEASE, SHARED, registerSharedKind, reviverFor, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import { HandleStateError } from '../sync/errors.js';
import { AbortedError } from './errors.js';
import * as mpsc from './mpsc.js';
import { hold, release } from './wait.js';

/**
 * A `'message'` listener, as `addEventListener` takes on a `MessagePort`: a
 * function, or an object with `handleEvent`; it gets `{ data }`, the message.
 */
export type EndpointListener = ((ev: { data: unknown }) => void) | {
      /** Called with each message, as `{ data }`. */
      handleEvent(ev: { data: unknown }): void;
    };

const REQUEST_TYPES = new Set(['GET', 'SET', 'APPLY', 'CONSTRUCT', 'ENDPOINT']);

/** A comlink reply that makes the pending call reject (the actor or peer is gone). */
function goneReply(id: string, what: string): unknown {
  return {
    id,
    type: 'HANDLER',
    name: 'throw',
    value: { isError: true, value: { name: 'Error', message: `spindle: ${what}: the other side of this endpoint is gone (it closed, was released, or its thread died)` } },
  };
}

/**
 * What every endpoint shares: listeners, the receive loop (cancel-safe: a
 * loop stopped by the last `removeEventListener` loses no message), and the
 * keep-alive rule.
 */
abstract class Listening {
  readonly #listeners = new Set<EndpointListener>();
  #running = false;
  #stop: AbortController | null = null;
  readonly #pending = new Set<string>();
  #held = false;
  #sawRelease = false;
  #closed = false;
  /** Closed because the other side went away (not by a close() on this side). */
  #peerGone = false;
  readonly #closedWaiters: (() => void)[] = [];

  /** The channel this endpoint receives on (null when it dispatches what it is fed). */
  protected abstract inbox(): mpsc.Receiver<unknown> | null;
  /** Sends one message to the other side; false when the other side is gone. */
  protected abstract sendRaw(message: unknown): boolean;
  /** Drops this endpoint's channel ends. */
  protected abstract dropEnds(): void;
  /** Name for errors. */
  protected abstract readonly what: string;

  /** Posts a message to the other side (encoded like a task argument; `transfer` is ignored: nothing needs transferring). */
  postMessage(message: unknown, _transfer?: unknown[]): void {
    const m = message as { id?: unknown; type?: unknown } | null;
    const id = typeof m === 'object' && m !== null && typeof m.id === 'string' && REQUEST_TYPES.has(m.type as string) ? m.id : undefined;
    if (this.#closed) {
      // The other side went away: as a MessagePort does, what is posted goes nowhere — a request is
      // answered "gone", the rest is dropped. Throwing here would kill an actor's thread: comlink
      // posts its reply to a RELEASE from a promise callback, after the client may have dropped its ends.
      if (!this.#peerGone) throw typeError(`spindle: ${this.what}.postMessage(): this endpoint is closed`, ErrorCode.CLOSED);
      if (id !== undefined) queueMicrotask(() => this.dispatch(goneReply(id, this.what)));
      return;
    }
    if (id !== undefined) {
      this.#pending.add(id);
      this.#keep();
    }
    if (!this.sendRaw(message)) {
      if (id !== undefined) queueMicrotask(() => this.#dispatchReply(goneReply(id, this.what)));
      return;
    }
    if (typeof m === 'object' && m !== null && m.type === 'RELEASE') this.afterRelease();
  }

  /** Called after this side posted a comlink RELEASE. */
  protected afterRelease(): void {}

  /** Adds a `'message'` listener; the first one starts receiving. */
  addEventListener(type: string, listener: EndpointListener): void {
    if (type !== 'message') return;
    if (typeof listener !== 'function' && typeof (listener as { handleEvent?: unknown })?.handleEvent !== 'function') {
      throw typeError(`spindle: ${this.what}.addEventListener(type, listener): listener must be a function or have handleEvent`);
    }
    this.#listeners.add(listener);
    this.#run();
  }

  /** Removes a listener; with none left, receiving stops (no message is lost). */
  removeEventListener(type: string, listener: EndpointListener): void {
    if (type !== 'message') return;
    this.#listeners.delete(listener);
    if (this.#listeners.size > 0) return;
    this.#stop?.abort();
    if (this.#sawRelease) this.close();
  }

  /** comlink calls it; receiving starts with the first listener anyway. */
  start(): void {}

  /** Resolves when this endpoint has closed (released, closed, or the other side is gone). */
  closed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  /** Closes the endpoint: drops its channels (the other side sees it gone). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#pending) queueMicrotask(() => this.#dispatchReply(goneReply(id, this.what)));
    // A receive in progress is aborted (it takes nothing); its loop drops the ends when it stops.
    if (this.#running) this.#stop?.abort();
    else this.dropEnds();
    for (const w of this.#closedWaiters.splice(0)) w();
  }

  /** @internal Closes because the other side is gone: what this side posts from now on goes nowhere, quietly. */
  closeGone(): void {
    this.#peerGone = true;
    this.close();
  }

  /** True once this endpoint has closed (released, `close()`d, or its other side is gone): what `closed()` waits for. */
  get isClosed(): boolean {
    return this.#closed;
  }

  #keep(): void {
    if (!this.#held && this.#pending.size > 0) {
      this.#held = true;
      hold();
    }
  }

  #unkeep(): void {
    if (this.#held && this.#pending.size === 0) {
      this.#held = false;
      release();
    }
  }

  /** Hands one message to the listeners (public for endpoints fed by a serving loop). */
  dispatch(data: unknown): void {
    const m = data as { id?: unknown; type?: unknown } | null;
    if (typeof m === 'object' && m !== null) {
      if (typeof m.id === 'string' && this.#pending.delete(m.id)) this.#unkeep();
      if (m.type === 'RELEASE') this.#sawRelease = true;
    }
    const ev = { data };
    for (const l of [...this.#listeners]) {
      if (typeof l === 'function') l.call(this, ev);
      else l.handleEvent(ev);
    }
  }

  #dispatchReply(reply: unknown): void {
    if (this.#pending.has((reply as { id: string }).id)) this.dispatch(reply);
  }

  #run(): void {
    const rx = this.inbox();
    if (this.#running || rx === null || this.#closed) return;
    this.#running = true;
    void this.#loop(rx);
  }

  async #loop(rx: mpsc.Receiver<unknown>): Promise<void> {
    try {
      while (this.#listeners.size > 0 && !this.#closed) {
        if (this.#stop === null || this.#stop.signal.aborted) this.#stop = new AbortController();
        let v: unknown;
        try {
          // Unref'd: the endpoint holds the process only while replies are pending (#keep). The
          // listeners answer from promise callbacks: no polls until they have run.
          v = await rx._recvAfterDispatch(this.#stop.signal, false);
        } catch (e) {
          if (e instanceof AbortedError) continue;
          throw e;
        }
        if (v === undefined) {
          this.closeGone(); // the other side is gone: fail what waits for it
          return;
        }
        this.dispatch(v);
      }
    } finally {
      this.#running = false;
      if (this.#closed) this.dropEnds();
    }
  }
}

// ───────────────────────── endpointPair ─────────────────────────

/** Pair block: +0 kind tag, +1 the sender end's offset, +2 the receiver's channel offset. */
const PAIR_TAG = 0x53500201;
const PAIR_BYTES = 16;

/**
 * One side of {@link endpointPair}: a comlink `Endpoint` over two spindle
 * channels. A shared handle: pass it to `spawn` (it moves) to use it in a task.
 */
export class Endpoint extends Listening implements SharedHandle {
  protected readonly what = 'Endpoint';
  readonly #heap: SharedHeap;
  readonly #pair: number;
  #tx: mpsc.Sender<unknown> | null;
  #rx: mpsc.Receiver<unknown> | null;
  #moved = false;

  /** @internal Made by endpointPair() and the reviver. */
  constructor(heap: SharedHeap, pair: number, tx: mpsc.Sender<unknown>, rx: mpsc.Receiver<unknown>) {
    super();
    this.#heap = heap;
    this.#pair = pair;
    this.#tx = tx;
    this.#rx = rx;
  }

  #live(op: string): void {
    if (this.#moved) throw new HandleStateError(`spindle: Endpoint.${op}: this Endpoint was moved (passed to a spawn or through a channel)`);
  }

  protected inbox(): mpsc.Receiver<unknown> | null {
    return this.#moved ? null : this.#rx;
  }

  protected sendRaw(message: unknown): boolean {
    this.#live('postMessage()');
    try {
      this.#tx!.trySend(message);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === ErrorCode.CLOSED) return false;
      throw e;
    }
  }

  protected dropEnds(): void {
    if (this.#moved) return;
    this.#tx?.drop();
    this.#rx?.drop();
    this.#tx = this.#rx = null;
    const i32 = this.#heap.i32For(this.#pair + PAIR_BYTES);
    Atomics.store(i32, this.#pair >> 2, 0);
    this.#heap.free(this.#pair);
  }

  /**
   * @internal The end of the task this endpoint was moved into (codec.ts `ownedArgs`): close it
   * unless it was closed or moved on, so the other side sees it gone instead of waiting forever.
   */
  [RELEASE](): void {
    if (!this.#moved && !this.isClosed) this.close();
  }

  /** The shared-handle protocol: both channel ends move with it. */
  [SHARED](): SharedRef {
    this.#live('send');
    if (this.isClosed) throw new HandleStateError('spindle: this Endpoint is closed; it cannot be sent');
    const tx = this.#tx![SHARED]();
    const rx = this.#rx![SHARED]();
    const i32 = this.#heap.i32For(this.#pair + PAIR_BYTES);
    Atomics.store(i32, (this.#pair >> 2) + 1, tx.offset);
    Atomics.store(i32, (this.#pair >> 2) + 2, rx.offset);
    return {
      kind: 'comlink.Endpoint',
      heap: this.#heap,
      offset: this.#pair,
      generation: this.#heap.generation(this.#pair),
      commit: () => {
        tx.commit?.();
        rx.commit?.();
        this.#moved = true;
      },
    };
  }
}

registerSharedKind('comlink.Endpoint', (heap, pair, gen) => {
  const i32 = heap.i32For(pair + PAIR_BYTES);
  // The pair block is freed when its endpoint closes: a stale handle finds it gone, or (reused) a new generation.
  if (!heap.isLive(pair) || Atomics.load(i32, pair >> 2) !== PAIR_TAG || (gen !== undefined && heap.generation(pair) !== gen)) {
    throw new HandleStateError(`spindle: offset ${pair} is not a live Endpoint (closed, or a handle of another kind)`);
  }
  const tx = reviverFor('mpsc.Sender')(heap, Atomics.load(i32, (pair >> 2) + 1)) as mpsc.Sender<unknown>;
  const rx = reviverFor('mpsc.Receiver')(heap, Atomics.load(i32, (pair >> 2) + 2)) as mpsc.Receiver<unknown>;
  return new Endpoint(heap, pair, tx, rx);
});

/**
 * Two endpoints joined by spindle channels: what one posts, the other's
 * listeners get. Give one to a task, keep the other:
 *
 * ```ts
 * const [here, there] = endpointPair();
 * spawn(serveCounter, there);          // in the task: expose(counter, there)
 * const counter = wrap<Counter>(here); // comlink's wrap
 * ```
 */
export function endpointPair(): [Endpoint, Endpoint] {
  const heap = globalHeap();
  const [atx, arx] = mpsc.unbounded<unknown>();
  const [btx, brx] = mpsc.unbounded<unknown>();
  const pa = heap.alloc(PAIR_BYTES);
  const pb = heap.alloc(PAIR_BYTES);
  Atomics.store(heap.i32For(pa + PAIR_BYTES), pa >> 2, PAIR_TAG);
  Atomics.store(heap.i32For(pb + PAIR_BYTES), pb >> 2, PAIR_TAG);
  return [new Endpoint(heap, pa, atx, brx), new Endpoint(heap, pb, btx, arx)];
}

// ───────────────────────── actors ─────────────────────────

/** What an actor's inbox carries: a client's hello (with its reply channel), or a message from a client. */
export type Envelope = { c: number; hello: mpsc.Sender<unknown> } | { c: number; m: unknown };

let nextClient = 0;
function clientId(): number {
  // Unique across threads without coordination: thread-local counter + random high bits.
  return (Math.floor(Math.random() * 0x1fffff) * 0x100000 + (nextClient++ & 0xfffff));
}

/** The endpoint a client thread uses to reach an actor: requests into the actor's inbox, replies on its own channel. */
export class ClientEndpoint extends Listening {
  protected readonly what = 'actor endpoint';
  #inbox: mpsc.Sender<Envelope> | null;
  #replies: mpsc.Receiver<unknown> | null;
  readonly #id = clientId();

  /** @internal Takes ownership of `inbox` (a sender of the actor's inbox). */
  constructor(inbox: mpsc.Sender<Envelope>) {
    super();
    const [tx, rx] = mpsc.unbounded<unknown>();
    this.#inbox = inbox;
    this.#replies = rx;
    try {
      inbox.trySend({ c: this.#id, hello: tx });
    } catch {
      tx.drop(); // the actor is gone: calls will fail when its inbox refuses them
    }
  }

  /** True once this client released its remote (comlink's RELEASE went out) or closed. */
  get released(): boolean {
    return this.#inbox === null || this.isClosed;
  }

  /** A new sender into the actor's inbox (for another thread's client). */
  inboxClone(): mpsc.Sender<Envelope> {
    if (this.#inbox === null) throw new HandleStateError('spindle: this actor remote was released; it cannot be passed on');
    return this.#inbox.clone();
  }

  protected inbox(): mpsc.Receiver<unknown> | null {
    return this.#replies;
  }

  protected sendRaw(message: unknown): boolean {
    if (this.#inbox === null) return false;
    try {
      this.#inbox.trySend({ c: this.#id, m: message });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === ErrorCode.CLOSED) return false;
      throw e;
    }
  }

  protected override afterRelease(): void {
    // Released: nothing more goes to the actor. The actor drops our reply
    // channel after answering, which ends our receive loop and closes us.
    this.#inbox?.drop();
    this.#inbox = null;
  }

  protected dropEnds(): void {
    this.#inbox?.drop();
    this.#inbox = null;
    this.#replies?.drop();
    this.#replies = null;
  }
}

/** The actor's side of one client: fed by the serving loop, replies on the client's channel. */
export class ServerEndpoint extends Listening {
  protected readonly what = 'actor';
  #reply: mpsc.Sender<unknown> | null;
  readonly #onClose: () => void;

  /** @internal */
  constructor(reply: mpsc.Sender<unknown>, onClose: () => void) {
    super();
    this.#reply = reply;
    this.#onClose = onClose;
  }

  protected inbox(): null {
    return null;
  }

  protected sendRaw(message: unknown): boolean {
    if (this.#reply === null) return false;
    try {
      this.#reply.trySend(message);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === ErrorCode.CLOSED) return false;
      throw e;
    }
  }

  protected dropEnds(): void {
    this.#reply?.drop();
    this.#reply = null;
    this.#onClose();
  }
}

/**
 * Serves an actor: for each client that says hello on `inbox`, `expose(obj,
 * endpoint)` (comlink's, passed in); routes each client's messages to its
 * endpoint. Resolves when every sender of the inbox is gone (every remote
 * released or its thread dead).
 */
export async function serveInbox(obj: unknown, inbox: mpsc.Receiver<Envelope>, expose: (obj: unknown, ep: ServerEndpoint) => void): Promise<void> {
  const clients = new Map<number, ServerEndpoint>();
  // The actor answers from promise callbacks: no polls for the next request until they have run.
  for (let env = await inbox._recvAfterDispatch(undefined, true); env !== undefined; env = await inbox._recvAfterDispatch(undefined, true)) {
    if ('hello' in env) {
      const ep = new ServerEndpoint(env.hello, () => clients.delete(env.c));
      clients.set(env.c, ep);
      expose(obj, ep);
    } else {
      clients.get(env.c)?.dispatch(env.m);
    }
  }
  // Every client is gone (the inbox ended): a reply the actor posts later goes nowhere.
  for (const ep of [...clients.values()]) ep.closeGone();
}

// ───────────────────────── the remote object ─────────────────────────

type Wrap = (ep: ClientEndpoint) => any;
let loadComlink: Promise<Wrap> | null = null;
let wrapNow: Wrap | null = null;

/** Gives the comlink `wrap` to use (spindle/comlink calls it when it loads). */
export function provideWrap(wrap: Wrap): void {
  wrapNow = wrap;
  loadComlink = Promise.resolve(wrap);
}

function comlinkWrap(): Promise<Wrap> {
  return (loadComlink ??= import('comlink' as string).then(
    (c: { wrap: Wrap; releaseProxy: symbol }) => {
      releaseProxySymbol ??= c.releaseProxy;
      return (wrapNow = c.wrap);
    },
    (e: Error) => {
      throw typeError(`spindle: an actor remote needs the 'comlink' package (a peer dependency of spindle/comlink): ${e.message}`);
    },
  ));
}

interface RemoteState {
  client: ClientEndpoint;
  remote: any;
}

function withRemote<R>(st: RemoteState, f: (r: any) => R): R | Promise<Awaited<R>> {
  if (st.remote === null && wrapNow !== null) st.remote = wrapNow(st.client);
  if (st.remote !== null) return f(st.remote);
  return comlinkWrap().then((wrap) => {
    st.remote ??= wrap(st.client);
    return f(st.remote);
  }) as Promise<Awaited<R>>;
}

function walk(r: any, path: PropertyKey[]): any {
  let o = r;
  for (const k of path) o = o[k];
  return o;
}

/**
 * The object an actor's callers hold: comlink's remote (its `wrap` of a
 * client endpoint), behind a proxy that is also a shared handle — passing it
 * to a task gives that task its own client of the same actor.
 */
export function actorRemote(inbox: mpsc.Sender<Envelope>): any {
  const st: RemoteState = { client: new ClientEndpoint(inbox), remote: null };
  const shared = (): SharedRef => {
    const tx = st.client.inboxClone();
    const ref = tx[SHARED]();
    return { kind: 'comlink.Actor', heap: ref.heap, offset: ref.offset, generation: ref.generation, commit: ref.commit };
  };
  // Idempotent: `using`, the end of a task the remote was passed to, and an explicit
  // releaseProxy may all come; comlink throws on a second release.
  const release = (): void => {
    if (st.client.released) return;
    withRemote(st, (r) => r[releaseSymbol(r)]?.());
  };
  return proxyAt(st, [], shared, release);
}

/** comlink's releaseProxy symbol, found on its module once loaded. */
let releaseProxySymbol: symbol | null = null;
export function provideReleaseSymbol(s: symbol): void {
  releaseProxySymbol = s;
}
function releaseSymbol(_r: unknown): symbol {
  if (releaseProxySymbol === null) throw typeError('spindle: comlink is not loaded on this thread');
  return releaseProxySymbol;
}

function proxyAt(st: RemoteState, path: PropertyKey[], shared?: () => SharedRef, release?: () => void): any {
  const target = path.length === 0 ? {} : function () {};
  return new Proxy(target, {
    get(_t, prop) {
      if (path.length === 0) {
        if (prop === SHARED) return shared;
        if (prop === 'then') return undefined; // the remote itself is not awaitable
        if (prop === Symbol.dispose) return release;
        // A remote passed to a task is released at the task's end (codec.ts `ownedArgs`), unless returned.
        if (prop === RELEASE) return release;
      }
      if (prop === 'then') {
        const p = Promise.resolve(withRemote(st, (r) => walk(r, path)));
        return p.then.bind(p);
      }
      return proxyAt(st, [...path, prop]);
    },
    set(_t, prop, value) {
      void withRemote(st, (r) => {
        walk(r, path)[prop] = value;
      });
      return true;
    },
    apply(_t, _this, args) {
      return withRemote(st, (r) => walk(r, path.slice(0, -1))[path[path.length - 1]!](...args));
    },
  });
}

registerSharedKind('comlink.Actor', (heap, e, gen) => {
  const tx = reviverFor('mpsc.Sender')(heap, e, gen) as mpsc.Sender<Envelope>;
  return actorRemote(tx);
});

