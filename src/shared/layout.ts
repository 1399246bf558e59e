/**
 * The runtime's control SharedArrayBuffer: the one place its layout is described.
 *
 * One `Int32Array` (`ctl`) over one non-growable SharedArrayBuffer. All offsets
 * below are in 32-bit words. `S` = slot capacity (power of two), `N` = workers,
 * `D` = per-worker deque capacity (power of two). Every ring has `2S` cells
 * (ring.ts says why). The word tables below are checked against the constants
 * by test/layout.test.ts: a table that drifts from the code fails the suite.
 *
 * | region            | words          | written by                  | read by           |
 * |-------------------|----------------|-----------------------------|-------------------|
 * | header            | HEADER_WORDS   | see the H_* table below     |                   |
 * | free-slot ring    | ring(2S)       | whoever releases / reserves a slot (MPMC, slot.ts) |  |
 * | injector ring     | ring(2S)       | main thread, overflowing workers, recovery | workers |
 * | main completions  | ring(2S)       | workers, recovery (MPSC)    | main thread       |
 * | worker inboxes    | N × ring(2S)   | workers completing a task owned by worker w, recovery | worker w |
 * | deques            | N × deque(D)   | see deque.ts                |                   |
 * | per-worker words  | N × WORKER_WORDS | see the W_* table below   |                   |
 * | slot headers      | S × SLOT_WORDS | see the SLOT_* table below  |                   |
 * | slot inline bytes | S × INLINE_BYTES / 4 | the slot's current payload writer (slot.ts) |   |
 * | code table        | CODE_ENTRIES × 2 + CODE_CHARS / 2 | code.ts (lock-free append) | all |
 *
 * Header words (H_*):
 * | word          | meaning                                              | writers            | readers |
 * |---------------|------------------------------------------------------|--------------------|---------|
 * | H_SHUTDOWN    | 1 once workers must exit                             | main               | workers |
 * | H_IDLE        | (sleeping << 16) | searching — see idle.ts           | workers, spawners  | all     |
 * | H_MAIN_WAIT   | 1 while the main thread waits for completions (futex) | main sets, workers clear | all |
 * | H_LIVE        | worker-spawned tasks in slots and not yet finished, plus one per worker with private live tasks (main-spawned ones are counted on the main thread) | workers | main |
 * | H_CODE_COUNT  | code entries claimed (code.ts)                       | any (add)          | any     |
 * | H_CODE_BYTES  | UTF-16 units claimed in the code string area         | any (add)          | any     |
 * | H_READY       | workers that have started (metrics, tests)           | workers (+1 each)  | main    |
 *
 * Per-worker words (W_*), at workerBase(w):
 * | word          | meaning                                              | writers            | readers |
 * |---------------|------------------------------------------------------|--------------------|---------|
 * | W_PARK        | futex: 0 running, 1 parked, 2 notified               | owner, wakers      | wakers  |
 * | W_TASKS_RUN   | tasks run (metrics)                                  | owner              | main    |
 * | W_STEALS      | tasks taken from other workers' deques               | owner              | main    |
 * | W_STOLEN_FROM | tasks other workers took from this deque             | thieves (add)      | main    |
 * | W_PARKS       | times the worker parked                              | owner              | main    |
 * | W_PRIVATE     | tasks in the private (unpublished) deque             | owner              | main, thieves (hint) |
 * | W_INJECTED    | tasks taken from the injector                        | owner              | main    |
 * | W_LOCAL_HITS  | nested spawns run without being published            | owner              | main    |
 * | W_LOCAL_LIVE  | 1 while the worker holds one unit of H_LIVE for the live tasks that exist only in its JS heap (private, or run from it), else 0 (live.ts) | owner | main, at the worker's death |
 * | W_ROLE        | this worker's share of H_IDLE: 0 none, 1 searching, 2 sleeping (idle.ts) | owner | main, at the worker's death |
 * | W_STARTED     | 1 once the worker's bootstrap finished               | owner              | main    |
 * | W_ABORTS      | bumped when a task running here is aborted: look at your tasks' ABORT flags | aborters | owner |
 * | W_HAND        | the one slot index this worker holds outside any queue and not running (handoff.ts), else -1; the slot's state says where it goes back if the worker dies | owner | main, at the worker's death |
 * | W_PENDING     | the slot index of a QUEUED task held while its module is imported, else -1 | owner | main, at the worker's death |
 *
 * Slot header words (SLOT_*), at slotBase(i): a slot carries one task from
 * spawn to join. It is reserved by the spawner (its *owner*), which also
 * releases it after taking the outcome. The state word changes only through
 * the transitions of slot.ts.
 * | word        | meaning                                                    | written by         |
 * |-------------|------------------------------------------------------------|--------------------|
 * | SLOT_STATE  | state (low byte), ABORT flag (0x100), and while RUNNING the runner + 1 (bits 16+), so that claiming a task and naming its runner are one CAS (slot.ts) | slot.ts transitions only (RMW) |
 * | SLOT_OWNER  | -1 main thread, w ≥ 0 worker w: where the completion goes  | owner, before publish |
 * | SLOT_CODE   | code id (code.ts)                                          | owner, before publish |
 * | SLOT_SMALL  | the int of a payload that is one int32 (a result, or one int argument: slot.ts `writePayload`), when SLOT_HEAP says so | owner, then runner |
 * | SLOT_HEAP   | heap offset of the payload (> 0), 0 when inline, −(its length) when its int is in SLOT_SMALL | owner, then runner |
 * | SLOT_DEATHS | workers that died holding this task before it started (W_PENDING) | recovery (main) |
 * | SLOT_ID_LO, SLOT_ID_HI | the task's id (as on its JoinHandle), low and high 32 bits | owner, before publish |
 * Publishing writes these words and the payload first and the state last
 * (RESERVED → QUEUED), and every later reader first sees the state (a CAS or a
 * load of it, seq-cst), so it sees them.
 */

export const H_SHUTDOWN = 0;
export const H_IDLE = 1;
export const H_MAIN_WAIT = 2;
export const H_LIVE = 3;
export const H_CODE_COUNT = 4;
export const H_CODE_BYTES = 5;
export const H_READY = 6;
export const HEADER_WORDS = 16; // padded: keeps the hot words off the first ring's cache line

export const W_PARK = 0;
export const W_TASKS_RUN = 1;
export const W_STEALS = 2;
export const W_STOLEN_FROM = 3;
export const W_PARKS = 4;
export const W_PRIVATE = 5;
export const W_INJECTED = 6;
export const W_LOCAL_HITS = 7;
export const W_LOCAL_LIVE = 8;
export const W_ROLE = 9;
export const W_STARTED = 10;
export const W_ABORTS = 11;
export const W_HAND = 12;
export const W_PENDING = 13;
export const WORKER_WORDS = 16; // one 64-byte line per worker, so parking one does not bounce another's

export const SLOT_STATE = 0;
export const SLOT_OWNER = 1;
export const SLOT_CODE = 2;
export const SLOT_SMALL = 3;
export const SLOT_HEAP = 4;
export const SLOT_DEATHS = 5;
export const SLOT_ID_LO = 6;
export const SLOT_ID_HI = 7;
export const SLOT_WORDS = 8;

/** Payloads up to this many bytes live in the slot itself; larger ones in the shared heap. */
export const INLINE_BYTES = 96;

/** Cells per ring for `slots` slots: 2S, so that no push meets a full ring (ring.ts). */
export const ringCells = (slots: number): number => 2 * slots;
/** Ring layout (ring.ts): 2 index words padded to a line, then 2 words per cell. */
export const ringWords = (capacity: number): number => 16 + 2 * capacity;
/** Deque layout (deque.ts): top and bottom on separate lines, then the buffer. */
export const dequeWords = (capacity: number): number => 32 + capacity;

/** Code table (code.ts): entry words, then a UTF-16 string area. */
export const CODE_ENTRIES = 4096;
export const CODE_CHARS = 1 << 20;

export interface Layout {
  slots: number;
  workers: number;
  dequeCapacity: number;
  /** Cells of every ring: twice the slots (ring.ts). */
  ringCells: number;
  freeRing: number;
  injector: number;
  mainRing: number;
  inbox: (w: number) => number;
  deque: (w: number) => number;
  worker: (w: number) => number;
  slot: (i: number) => number;
  /** Byte offset of slot i's inline payload area. */
  inline: (i: number) => number;
  codeEntries: number;
  codeChars: number;
  totalWords: number;
}

export function layout(slots: number, workers: number, dequeCapacity: number): Layout {
  let at = HEADER_WORDS;
  const take = (words: number): number => {
    const start = at;
    at += words;
    return start;
  };
  const cells = ringCells(slots);
  const freeRing = take(ringWords(cells));
  const injector = take(ringWords(cells));
  const mainRing = take(ringWords(cells));
  const inboxes = take(workers * ringWords(cells));
  const deques = take(workers * dequeWords(dequeCapacity));
  const workersBase = take(workers * WORKER_WORDS);
  const slotBase = take(slots * SLOT_WORDS);
  const inlineBase = take((slots * INLINE_BYTES) / 4);
  const codeEntries = take(CODE_ENTRIES * 2);
  const codeChars = take(CODE_CHARS / 2);
  return {
    slots,
    workers,
    dequeCapacity,
    freeRing,
    injector,
    mainRing,
    ringCells: cells,
    inbox: (w) => inboxes + w * ringWords(cells),
    deque: (w) => deques + w * dequeWords(dequeCapacity),
    worker: (w) => workersBase + w * WORKER_WORDS,
    slot: (i) => slotBase + i * SLOT_WORDS,
    inline: (i) => inlineBase * 4 + i * INLINE_BYTES,
    codeEntries,
    codeChars,
    totalWords: at,
  };
}
