/**
 * Layout tables as data. Each shared-memory structure describes its words in
 * a `wordTable(...)` next to the constants it uses, built *from* those
 * constants (`at: LOCK, words: TL_WORDS`), so the description cannot drift
 * from the code: a table whose rows overlap, run past its size or leave an
 * unnamed gap throws when the module loads. docs/shared-state.md carries the
 * rendered tables (`renderWordTable`); test/sync/layouts.test.ts checks that
 * the document says exactly what the code does.
 */

/** One field: `words` units starting at unit `at`. */
export interface WordRow {
  /** The constant's name in the code (or a short label). */
  name: string;
  /** First unit (Int32 word or byte, per the table's unit) from the structure's base. */
  at: number;
  /** Number of units. */
  words: number;
  /** What it holds. */
  meaning: string;
  /** Who writes it → who reads it. */
  access: string;
}

export interface WordTable {
  /** Heading, e.g. "Mutex block". */
  title: string;
  /** Where the structure lives and what the offsets count from. */
  base: string;
  /** 'word' (Int32 index), 'byte', or 'tag' (the rows are the values of a tag byte). */
  unit: 'word' | 'byte' | 'tag';
  /** Where the rows start (default 0; a block header sits before its payload). */
  from?: number;
  /** End of the structure: rows must cover [from, size) with no gap and no overlap. */
  size: number;
  rows: WordRow[];
  /** A sentence or two under the table. */
  note?: string;
}

/** Checks `t` (sorted, contiguous, within size) and returns it. @throws Error naming the first inconsistency. */
export function wordTable(t: WordTable): WordTable {
  let next = t.from ?? 0;
  for (const r of t.rows) {
    if (!Number.isInteger(r.at) || !Number.isInteger(r.words) || r.words < 1) {
      throw new Error(`spindle: layout '${t.title}': row ${r.name} has a bad extent (${r.at}, ${r.words})`);
    }
    if (r.at !== next) {
      throw new Error(`spindle: layout '${t.title}': row ${r.name} starts at ${r.at}, but the previous row ends at ${next} (${r.at < next ? 'overlap' : 'gap'})`);
    }
    next = r.at + r.words;
  }
  if (next !== t.size) {
    throw new Error(`spindle: layout '${t.title}': rows end at ${next}, but the structure ends at ${t.size}`);
  }
  registered.push(t);
  return t;
}

const registered: WordTable[] = [];

/** Every table defined by the modules loaded so far, in load order. */
export function wordTables(): readonly WordTable[] {
  return registered;
}

/** A Markdown table cell: a `|` would end it. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function extent(r: WordRow): string {
  return r.words === 1 ? `${r.at}` : `${r.at} – ${r.at + r.words - 1}`;
}

/** The table as Markdown (what docs/shared-state.md shows). */
export function renderWordTable(t: WordTable): string {
  const lines = [
    `#### ${t.title}`,
    '',
    t.unit === 'tag' ? `${t.base}.` : `${t.base}; offsets in ${t.unit === 'word' ? 'Int32 words' : 'bytes'}.`,
    '',
    `| ${t.unit} | name | meaning | writer → reader |`,
    '| --- | --- | --- | --- |',
    ...t.rows.map((r) => `| ${extent(r)} | \`${r.name}\` | ${cell(r.meaning)} | ${cell(r.access)} |`),
  ];
  if (t.note !== undefined) lines.push('', t.note);
  return lines.join('\n');
}
