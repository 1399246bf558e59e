/**
 * The code table: code keys (task.ts) ↔ small integer ids, shared by all threads.
 *
 * Append-only. Entries live in the control buffer: `CODE_ENTRIES` pairs of
 * words `[charOffset, charLength]` at `layout.codeEntries`, and the keys' UTF-16
 * code units in the string area at `layout.codeChars`. `H_CODE_COUNT` is the
 * number of published entries; an entry is complete before the count that
 * covers it is stored (seq-cst), and a task never carries an id before its
 * spawner published it, so readers need no lock. Writers append under the
 * `H_CODE_LOCK` spin lock, held for a few hundred nanoseconds once per task
 * definition and thread.
 */
import { CODE_CHARS, CODE_ENTRIES, H_CODE_BYTES, H_CODE_COUNT, H_CODE_LOCK, type Layout } from './layout.js';

export class CodeTable {
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly chars: Uint16Array;

  constructor(
    private readonly ctl: Int32Array,
    private readonly lay: Layout,
  ) {
    this.chars = new Uint16Array(ctl.buffer, lay.codeChars * 4, CODE_CHARS);
  }

  /** The id of a key, registering it if no thread has yet. */
  idOf(key: string): number {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const ctl = this.ctl;
    while (Atomics.compareExchange(ctl, H_CODE_LOCK, 0, 1) !== 0) Atomics.wait(ctl, H_CODE_LOCK, 1, 0.05);
    try {
      // safety: under the lock no entry is being appended, so every entry below
      // the count is complete; another thread may have registered this key.
      const n = Atomics.load(ctl, H_CODE_COUNT);
      for (let id = this.keys.length; id < n; id++) this.learn(id);
      const again = this.ids.get(key);
      if (again !== undefined) return again;
      const at = Atomics.load(ctl, H_CODE_BYTES);
      if (n >= CODE_ENTRIES || at + key.length > CODE_CHARS) {
        throw new RangeError(`spindle: too many distinct tasks (${n}) or task sources too long for the code table`);
      }
      for (let i = 0; i < key.length; i++) Atomics.store(this.chars, at + i, key.charCodeAt(i));
      Atomics.store(ctl, this.lay.codeEntries + 2 * n, at);
      Atomics.store(ctl, this.lay.codeEntries + 2 * n + 1, key.length);
      Atomics.store(ctl, H_CODE_BYTES, at + key.length);
      Atomics.store(ctl, H_CODE_COUNT, n + 1); // publishes entry n
      this.ids.set(key, n);
      this.keys[n] = key;
      return n;
    } finally {
      Atomics.store(ctl, H_CODE_LOCK, 0);
      Atomics.notify(ctl, H_CODE_LOCK, 1);
    }
  }

  /** The key of a published id. */
  keyOf(id: number): string {
    return this.keys[id] ?? this.learn(id);
  }

  private learn(id: number): string {
    const at = Atomics.load(this.ctl, this.lay.codeEntries + 2 * id);
    const len = Atomics.load(this.ctl, this.lay.codeEntries + 2 * id + 1);
    let key = '';
    for (let i = 0; i < len; i++) key += String.fromCharCode(Atomics.load(this.chars, at + i));
    this.keys[id] = key;
    this.ids.set(key, id);
    return key;
  }
}
