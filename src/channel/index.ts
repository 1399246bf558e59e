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

export { mpsc };
export { select, type SelectBranch, type Selected, type SelectValue } from './select.js';
export { SendError, TrySendError, TryRecvError, RecvError, LaggedError, AbortedError } from './errors.js';

/** A oneshot channel: `[sender, receiver]`, one value once. */
export function oneshot<T>(): [oneshot.Sender<T>, oneshot.Receiver<T>] {
  return oneshotNs.channel<T>();
}
export declare namespace oneshot {
  export type Sender<T> = oneshotNs.Sender<T>;
  export type Receiver<T> = oneshotNs.Receiver<T>;
}
oneshot.Sender = oneshotNs.Sender;
oneshot.Receiver = oneshotNs.Receiver;

/** A broadcast channel keeping the last `capacity` values: `[sender, receiver]`. */
export function broadcast<T>(capacity: number): [broadcast.Sender<T>, broadcast.Receiver<T>] {
  return broadcastNs.channel<T>(capacity);
}
export declare namespace broadcast {
  export type Sender<T> = broadcastNs.Sender<T>;
  export type Receiver<T> = broadcastNs.Receiver<T>;
}
broadcast.Sender = broadcastNs.Sender;
broadcast.Receiver = broadcastNs.Receiver;

/** A watch channel holding `initial`: `[sender, receiver]`. */
export function watch<T>(initial: T): [watch.Sender<T>, watch.Receiver<T>] {
  return watchNs.channel<T>(initial);
}
export declare namespace watch {
  export type Sender<T> = watchNs.Sender<T>;
  export type Receiver<T> = watchNs.Receiver<T>;
}
watch.Sender = watchNs.Sender;
watch.Receiver = watchNs.Receiver;
