/**
 * Channels between tasks, in the shared heap: oneshot, mpsc, broadcast and
 * watch (Tokio's `tokio::sync` channels), `select` over their receivers, and
 * their errors. Importing this module registers every end's kind, so an end
 * that arrives in this thread can be rebuilt.
 */
import * as broadcastNs from './broadcast.js';
import * as mpsc from './mpsc.js';
import * as oneshotNs from './oneshot.js';
import * as watchNs from './watch.js';
// Registers the endpoint and actor-remote kinds (no comlink import): a task whose module imports
// only 'spindle' can still be handed an endpointPair() end or a spawnActor remote.
import './endpoint.js';

export { mpsc };
export { select, type SelectBranch, type Selected, type SelectValue } from './select.js';
export { SendError, TrySendError, TryRecvError, RecvError, LaggedError, AbortedError } from './errors.js';

/** A oneshot channel: `[sender, receiver]`, one value once. */
export function oneshot<T>(): [oneshot.Sender<T>, oneshot.Receiver<T>] {
  return oneshotNs.channel<T>();
}
/**
 * The ends of a {@link oneshot} channel, as types and classes: name what you
 * receive, or test it with `instanceof`.
 *
 * ```ts
 * export const double = task(import.meta.url, function double(reply: oneshot.Sender<number>, n: number): void {
 *   reply.send(n * 2);
 * });
 *
 * const [tx, rx] = oneshot<number>();
 * rt.spawn(double, tx, 21); // the sender moves into the task
 * console.log(await rx); // 42
 * ```
 */
export namespace oneshot {
  export import Sender = oneshotNs.Sender;
  export import Receiver = oneshotNs.Receiver;
}

/** A broadcast channel keeping the last `capacity` values: `[sender, receiver]`. */
export function broadcast<T>(capacity: number): [broadcast.Sender<T>, broadcast.Receiver<T>] {
  return broadcastNs.channel<T>(capacity);
}
/**
 * The ends of a {@link broadcast} channel, as types and classes: name what you
 * receive (`broadcast.Receiver<T>`), or test it with `instanceof`.
 */
export namespace broadcast {
  export import Sender = broadcastNs.Sender;
  export import Receiver = broadcastNs.Receiver;
}

/** A watch channel holding `initial`: `[sender, receiver]`. */
export function watch<T>(initial: T): [watch.Sender<T>, watch.Receiver<T>] {
  return watchNs.channel<T>(initial);
}
/**
 * The ends of a {@link watch} channel, as types and classes: name what you
 * receive (`watch.Receiver<T>`), or test it with `instanceof`.
 */
export namespace watch {
  export import Sender = watchNs.Sender;
  export import Receiver = watchNs.Receiver;
}
