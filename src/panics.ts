/**
 * Unobserved panics: a panic is reported exactly once, if and only if its
 * outcome was never observed — at the latest when its handle is collected,
 * when the runtime shuts down, or when the process exits — and never for an
 * outcome that is observed, however late.
 *
 * A handle whose task panicked while nobody waited on it is *watched*: kept
 * by task id with only a weak reference to the handle. Awaiting it later
 * (`then`, `catch`) calls `observed`, which forgets it. Whatever is still
 * watched is reported when its handle is garbage-collected, or at `flush()`.
 * Each entry leaves the map before it is reported, so nothing is reported twice.
 */
import type { JoinError } from './errors.js';
import type { JoinHandle } from './join.js';

export class PanicWatch {
  readonly #watched = new Map<number, { ref: WeakRef<JoinHandle<unknown>>; e: JoinError }>();
  readonly #collected: FinalizationRegistry<number>;

  constructor(private readonly report: (e: JoinError) => void) {
    this.#collected = new FinalizationRegistry((id) => this.#report(id));
  }

  /** A panic settled `h` while nobody awaited it. */
  unobserved(h: JoinHandle<unknown>, e: JoinError): void {
    this.#watched.set(h.id, { ref: new WeakRef(h), e });
    this.#collected.register(h, h.id, h);
  }

  /** Someone awaited `h`: its panic is observed and never reported. */
  observed(h: JoinHandle<unknown>): void {
    if (this.#watched.delete(h.id)) this.#collected.unregister(h);
  }

  /** Panics watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /** Reports every panic still unobserved (the runtime shuts down, or the process exits). */
  flush(): void {
    for (const id of [...this.#watched.keys()]) this.#report(id);
  }

  #report(id: number): void {
    const entry = this.#watched.get(id);
    if (entry === undefined) return;
    this.#watched.delete(id);
    const h = entry.ref.deref();
    if (h !== undefined) this.#collected.unregister(h);
    this.report(entry.e);
  }
}
