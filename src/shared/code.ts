/**
 * The code table: code keys (task.ts) ↔ small integer ids, shared by all threads.
 *
 * Append-only and lock-free, so that no thread can die holding it. Entries
 * live in the control buffer: `CODE_ENTRIES` pairs of words
 * `[charOffset, charLength + 1]` at `layout.codeEntries`, and the keys' UTF-16
 * code units in the string area at `layout.codeChars`.
 *
 * Appending: claim an entry number (`Atomics.add` on `H_CODE_COUNT`) and a
 * range of characters (`Atomics.add` on `H_CODE_BYTES`), write the characters
 * and the offset, then the length word last: a non-zero length publishes the
 * entry. A thread never sends an id before it appended (or read) its entry,
 * and the queue push that carries the id orders the entry before the reader,
 * so a reader of an id finds it published. Two threads registering the same
 * key at once get two ids for it: harmless, both name the same code. A thread
 * that dies mid-append leaves an entry nobody will ever be sent.
 */
import { CODE_CHARS, CODE_ENTRIES, H_CODE_BYTES, H_CODE_COUNT, type Layout } from './layout.js';
import { rangeError } from '../errors.js';
import { InvariantError } from './ring.js';

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

  /** The id of a key, appending it if this thread has not seen it. */
  idOf(key: string): number {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const ctl = this.ctl;
    const n = Atomics.add(ctl, H_CODE_COUNT, 1);
    const at = Atomics.add(ctl, H_CODE_BYTES, key.length);
    if (n >= CODE_ENTRIES || at + key.length > CODE_CHARS) {
      throw rangeError(`spindle: too many distinct tasks (${n}) or task sources too long for the code table (${CODE_ENTRIES} tasks, ${CODE_CHARS} characters)`);
    }
    for (let i = 0; i < key.length; i++) Atomics.store(this.chars, at + i, key.charCodeAt(i));
    Atomics.store(ctl, this.lay.codeEntries + 2 * n, at);
    Atomics.store(ctl, this.lay.codeEntries + 2 * n + 1, key.length + 1); // publishes entry n
    this.ids.set(key, n);
    this.keys[n] = key;
    return n;
  }

  /** The key of an id this thread was sent. */
  keyOf(id: number): string {
    const known = this.keys[id];
    if (known !== undefined) return known;
    const len = Atomics.load(this.ctl, this.lay.codeEntries + 2 * id + 1) - 1;
    if (len < 0) throw new InvariantError(`code id ${id} was sent before its entry was published`);
    const at = Atomics.load(this.ctl, this.lay.codeEntries + 2 * id);
    let key = '';
    for (let i = 0; i < len; i++) key += String.fromCharCode(Atomics.load(this.chars, at + i));
    this.keys[id] = key;
    if (!this.ids.has(key)) this.ids.set(key, id);
    return key;
  }
}
