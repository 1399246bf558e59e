/**
 * `spindle/comlink`: actors reached by RPC through shared memory. comlink's
 * `wrap`/`expose` work over any `Endpoint`; spindle's endpoints carry the
 * messages through mpsc channels in the shared heap instead of a `MessagePort`.
 *
 * - `spawnActor(task, ...args)`: runs `task(...args)` on a worker, keeps the
 *   object it returns there (the actor's state), and returns comlink's remote
 *   for it. The remote is a shared handle: pass it to other tasks and they
 *   reach the same actor (each thread gets its own client endpoint). Release
 *   it with `remote[releaseProxy]()` (or `using`); the actor ends when every
 *   remote is released (or its thread died).
 * - `endpointPair()`: two endpoints for `expose` on one side and `wrap` on the
 *   other, as with a `MessageChannel`; `serve(obj, endpoint)` exposes `obj` and
 *   resolves when the endpoint is released.
 *
 * Values cross with spindle's codec (as task arguments do), not structured
 * clone: plain data, typed arrays, errors, shared handles. comlink's `proxy()`
 * and `transfer()` need a `MessagePort` and are not supported over these endpoints.
 */
import { expose, releaseProxy, wrap, type Remote } from 'comlink';
import { ErrorCode, typeError } from './errors.js';
import * as mpsc from './channel/mpsc.js';
import {
  Endpoint,
  actorRemote,
  endpointPair,
  provideReleaseSymbol,
  provideWrap,
  serveInbox,
  type Envelope,
} from './channel/endpoint.js';
import { hold, release } from './channel/wait.js';
import { spawn } from './spawn.js';
import { codeKeyOf, compileInline, lookupTask, parseModuleKey, task } from './task.js';

provideWrap(wrap as never);
provideReleaseSymbol(releaseProxy);

/** Finds a task's function on this thread by its code key (importing its module first). */
async function resolveTask(key: string): Promise<Function> {
  if (key.startsWith('s')) return compileInline(key.slice(1));
  const { url, name } = parseModuleKey(key);
  await import(url);
  const fn = lookupTask(key);
  if (fn === undefined) throw typeError(`spindle: spawnActor: module ${url} defines no task named '${name}'`, ErrorCode.TASK_NOT_FOUND);
  return fn;
}

/** An object whose every member throws `e` (what an actor that failed to start answers). */
function failing(e: unknown): object {
  return new Proxy(
    {},
    {
      get(_t, prop) {
        if (typeof prop === 'symbol') return undefined;
        throw e;
      },
    },
  );
}

/**
 * @internal The task that hosts an actor on a worker: builds the object, then serves its inbox until
 * every remote is gone. `spawnActor` spawns it; it is not for direct use.
 */
export const actorHost = task(import.meta.url, async function actorHost(key: string, args: unknown[], inbox: mpsc.Receiver<Envelope>): Promise<void> {
  try {
    let obj: unknown;
    try {
      obj = await (await resolveTask(key))(...args);
      if ((typeof obj !== 'object' && typeof obj !== 'function') || obj === null) {
        throw typeError(`spindle: spawnActor: the actor's task must return an object (its state and methods), got ${obj === null ? 'null' : typeof obj}`);
      }
    } catch (e) {
      // Every call fails with the actor's error until the remotes are released; then the task fails with it.
      await serveInbox(failing(e), inbox, (o, ep) => expose(o, ep as never));
      throw e;
    }
    await serveInbox(obj, inbox, (o, ep) => expose(o, ep as never));
  } finally {
    inbox.drop();
  }
});

/** What `spawnActor` returns: comlink's remote, which is also a shared handle and `Disposable` (releases it). */
export type ActorRemote<T> = Remote<T> & Disposable;

/**
 * Spawns an actor: `task(...args)` runs on a worker and returns the actor's
 * object; calls on the returned remote run there, one message at a time per
 * client, in shared memory. Pass the remote to other tasks to share the actor.
 *
 * ```ts
 * const cache = spawnActor(makeCache, 100);
 * await cache.set('a', 1);
 * console.log(await cache.get('a'));
 * cache[releaseProxy]();
 * ```
 */
export function spawnActor<A extends unknown[], T extends object>(task: (...args: A) => T | Promise<T>, ...args: A): ActorRemote<T> {
  const key = codeKeyOf(task);
  const [inboxTx, inboxRx] = mpsc.unbounded<Envelope>();
  try {
    // Not awaited: an actor that fails to start answers every call with its error, and
    // its task's panic goes to the runtime's onPanic like any detached task's.
    spawn(actorHost, key, args as unknown[], inboxRx);
  } catch (e) {
    inboxTx.drop();
    inboxRx.drop();
    throw e;
  }
  return actorRemote(inboxTx) as ActorRemote<T>;
}

/**
 * `expose(obj, endpoint)`, resolving when the endpoint is released or its other
 * side is gone. Serving keeps the thread alive meanwhile, as a `MessagePort`
 * with a listener does: the endpoint's own receive loop does not (a wrapped
 * remote nobody calls must not hold a process open), so without this a plain
 * worker whose only work is serving would exit after its first message.
 */
export function serve(obj: object, endpoint: Endpoint): Promise<void> {
  expose(obj, endpoint as never);
  hold();
  return endpoint.closed().finally(release);
}

export { Endpoint, endpointPair, releaseProxy, wrap, expose };
export type { EndpointListener } from './channel/endpoint.js';
