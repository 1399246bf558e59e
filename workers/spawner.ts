/**
 * Spawning from inside a task, and the handles this worker owns.
 *
 * A nested spawn with primitive arguments stays in the private deque
 * (private-deque.ts) until a peer is hungry; one with object arguments is
 * encoded at once (which also checks the `Send` bound at the spawn site, and
 * means a task never shares a mutable object with its spawner) and published
 * into a slot on this worker's shared deque.
 */
import { JoinError, joinError } from '../src/errors.js';
import { JoinHandle, type AbortOptions, type HandleHost } from '../src/join.js';
import { nextTaskId } from '../src/ids.js';
import type { PanicWatch } from '../src/panics.js';
import { codeKeyOf } from '../src/task.js';
import type { Core } from '../src/shared/core.js';
import { STEAL_EMPTY, STEAL_RETRY, type DequeOwner } from '../src/shared/deque.js';
import { fault, faultsOn } from '../src/shared/faults.js';
import { H_LIVE } from '../src/shared/layout.js';
import type { Contexts } from './contexts.js';
import type { Hand } from './handoff.js';
import type { Counters, Harness } from './harness.js';
import type { Live } from './live.js';
import type { LocalTask, PrivateDeque } from './private-deque.js';

const isPrimitive = (v: unknown): boolean => (typeof v !== 'object' && typeof v !== 'function') || v === null;

export class Spawner implements HandleHost {
  constructor(
    private readonly core: Core,
    private readonly me: number,
    private readonly dq: DequeOwner,
    private readonly priv: PrivateDeque,
    private readonly hand: Hand,
    private readonly live: Live,
    private readonly harness: Harness,
    private readonly contexts: Contexts,
    private readonly panics: PanicWatch,
    private readonly counters: Counters,
    private readonly kick: () => void,
  ) {}

  spawn(t: unknown, args: unknown[], awaitable = true): JoinHandle<any> {
    const key = codeKeyOf(t); // throws TypeError for what cannot be shipped
    let primitive = true;
    for (let i = 0; i < args.length; i++) if (!isPrimitive(args[i])) primitive = false;
    const core = this.core;
    if (primitive) {
      const h = new JoinHandle<unknown>(nextTaskId(), this, awaitable);
      this.keepPrivate(t as Function, args, h);
      if (core.idle.anyoneHungry()) this.share();
      this.kick();
      return h;
    } else {
      const code = core.codes.idOf(key);
      core.enc.encodeArgs(args); // the Send bound: a TypeError here, before anything is counted
      const h = new JoinHandle<unknown>(nextTaskId(), this, awaitable);
      const i = this.hand.reserve(core.free, core.slots);
      if (i === -1) {
        // No slot free: keep it here, as a copy of its arguments.
        const enc = core.enc;
        const copy = enc.buf.slice(0, enc.pos);
        this.keepPrivate(t as Function, core.dec.decodeArgs(copy, new DataView(copy.buffer), 0), h);
      } else {
        this.publish(i, code, h);
        core.idle.newWork();
      }
      this.kick();
      return h;
    }
  }

  private keepPrivate(fn: Function, args: unknown[], h: JoinHandle<unknown>): void {
    this.live.privateUp();
    const lt: LocalTask = { fn, args, h };
    h._local = lt;
    this.priv.push(lt);
  }

  /** Moves the older half of the private deque into slots on the shared deque, where thieves can take it. */
  share(): void {
    const core = this.core;
    const take = (this.priv.size + 1) >> 1;
    for (let k = 0; k < take; k++) {
      const i = this.hand.reserve(core.free, core.slots);
      if (i === -1) break;
      const lt = this.priv.shift()!;
      core.enc.encodeArgs(lt.args); // primitives only: cannot fail
      lt.h._local = null;
      // Counted as a slot task before it stops counting as a private one: H_LIVE never dips.
      this.publish(i, core.codes.idOf(codeKeyOf(lt.fn)), lt.h);
      this.live.privateDown();
    }
    core.idle.newWork();
  }

  /** Publishes reserved slot i (in hand) with the encoder's output as a task owned by us, onto our deque. */
  private publish(i: number, code: number, h: JoinHandle<unknown>): void {
    const core = this.core;
    core.writeEncoded(i);
    if (faultsOn) fault('after-reserve');
    core.slots.publish(i, this.me, code, h.id);
    Atomics.add(core.ctl, H_LIVE, 1); // safety: adjacent to the publish transition (live.ts)
    h._slot = i;
    this.harness.owned.set(i, h);
    this.pushOwn(i);
  }

  /** Pushes QUEUED slot i (in hand) on our deque; when full, it and the older half of the deque go to the injector. */
  private pushOwn(i: number): void {
    const core = this.core;
    if (this.dq.push(i)) {
      if (faultsOn) fault('after-push');
      this.hand.letGo();
      return;
    }
    this.hand.pushRing(core.injector, i);
    const mine = core.stealers[this.me]!;
    for (let k = this.dq.capacity >> 1; k > 0; k--) {
      const s = this.hand.steal(mine);
      if (s === STEAL_EMPTY) break;
      if (s === STEAL_RETRY) continue;
      if (faultsOn) fault('mid-overflow');
      this.hand.pushRing(core.injector, s);
    }
    core.idle.newWork();
  }

  // ───────────── HandleHost: the handles this worker owns ─────────────

  /** Aborts a task this worker spawned. (`force` is for main-thread handles: a worker cannot end a peer.) */
  abort(h: JoinHandle<unknown>, _opts?: AbortOptions, reason?: JoinError): void {
    const why = reason ?? joinError(h.id, 'cancelled');
    const lt = h._local as LocalTask | null;
    if (lt !== null) {
      this.priv.remove(lt);
      h._local = null;
      h._err(why);
      this.live.privateDown();
    } else if (h._slot >= 0) {
      const runner = this.core.requestAbort(h._slot);
      h._err(why);
      if (runner === this.me) this.kick();
    } else {
      // Running from this heap (inline): settle now, tell the task through its context.
      h._err(why);
      this.contexts.localAborted(h);
    }
  }

  /** Someone awaits `h`: if it is still in the private deque, run it now, on this stack. */
  join(h: JoinHandle<unknown>): void {
    const lt = h._local as LocalTask | null;
    if (lt === null) return;
    this.priv.remove(lt);
    this.counters.localHits++;
    this.harness.runLocal(lt);
  }

  unobserved(h: JoinHandle<unknown>, e: JoinError): void {
    this.panics.unobserved(h, e);
  }

  observed(h: JoinHandle<unknown>): void {
    this.panics.observed(h);
  }
}
