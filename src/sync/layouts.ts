/**
 * Every shared-memory layout of the shared heap and shared state, in the
 * order docs/shared-state.md shows them. Each table is data built from the
 * constants of its module (word-table.ts); `renderLayouts()` is the Markdown
 * the document carries between its `layouts:begin` / `layouts:end` markers
 * (test/sync/layouts.test.ts checks it; `npm run docs:layouts` rewrites it).
 */
import { CODEC_TAGS } from '../shared/codec.js';
import { HEAP_BLOCK, HEAP_HEADER } from '../shared/heap.js';
import { renderWordTable, type WordTable } from '../shared/word-table.js';
import { ARC_BLOCK } from './arc.js';
import { ATOMIC_BLOCK } from './atomic.js';
import { BARRIER_BLOCK } from './barrier.js';
import { MUTEX_BLOCK } from './mutex.js';
import { NOTIFY_BLOCK } from './notify.js';
import { ONCE_CELL_BLOCK } from './once-cell.js';
import { RWLOCK_BLOCK } from './rwlock.js';
import { SEMAPHORE_BLOCK } from './semaphore.js';
import { MAP_ENTRY, MAP_SHARD, SHARED_MAP_BLOCK } from './shared-map.js';
import { VALUE_SLOT } from './slot.js';
import { TICKET_LOCK } from './ticket-lock.js';

export const LAYOUTS: readonly WordTable[] = [
  HEAP_HEADER,
  HEAP_BLOCK,
  CODEC_TAGS,
  VALUE_SLOT,
  TICKET_LOCK,
  ARC_BLOCK,
  MUTEX_BLOCK,
  RWLOCK_BLOCK,
  SEMAPHORE_BLOCK,
  NOTIFY_BLOCK,
  BARRIER_BLOCK,
  ONCE_CELL_BLOCK,
  ATOMIC_BLOCK,
  SHARED_MAP_BLOCK,
  MAP_SHARD,
  MAP_ENTRY,
];

export const LAYOUTS_BEGIN = '<!-- layouts:begin (generated from the code by `npm run docs:layouts`; test/sync/layouts.test.ts checks it) -->';
export const LAYOUTS_END = '<!-- layouts:end -->';

/** The Markdown for every layout. */
export function renderLayouts(): string {
  return LAYOUTS.map(renderWordTable).join('\n\n');
}

/** `doc` with its layouts section replaced by {@link renderLayouts}; throws if the markers are missing. */
export function withLayouts(doc: string): string {
  const a = doc.indexOf(LAYOUTS_BEGIN);
  const b = doc.indexOf(LAYOUTS_END);
  if (a < 0 || b < a) throw new Error(`the document has no ${LAYOUTS_BEGIN} … ${LAYOUTS_END} section`);
  return `${doc.slice(0, a + LAYOUTS_BEGIN.length)}\n\n${renderLayouts()}\n\n${doc.slice(b)}`;
}
