/**
 * The run's results as JSON plus one SVG bar chart per metric (spindle against
 * each peer and one thread: the median as a bar, the min–max of the rounds as
 * a whisker), written by the bench itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { AdapterId } from './adapters/index.js';
import { METRICS, type Metric, type Results } from './results.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One metric's chart: a row per adapter that has a figure for it. */
export function chartSvg(metric: Metric, results: Results, names: Map<AdapterId, string>): string | undefined {
  const rows = [...names.keys()]
    .map((id) => ({ id, name: names.get(id)!, f: results.figure(metric.id, id) }))
    .filter((r) => r.f !== undefined);
  if (rows.length === 0) return undefined;
  const max = Math.max(...rows.map((r) => Math.max(r.f!.hi, r.f!.median))) || 1;
  const left = 150;
  const width = 640;
  const plot = width - left - 90;
  const rowH = 28;
  const top = 40;
  const height = top + rows.length * rowH + 16;
  const x = (v: number): number => left + (v / max) * plot;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-weight="600">${esc(metric.label)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const f = r.f!;
    const fill = r.id === 'spindle' ? '#2b6cb0' : r.id === 'one-thread' ? '#a0aec0' : '#ed8936';
    out.push(
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${Math.max(1, x(f.median) - left).toFixed(1)}" height="16" fill="${fill}"/>`,
      `<line x1="${x(f.lo).toFixed(1)}" x2="${x(f.hi).toFixed(1)}" y1="${y + 12}" y2="${y + 12}" stroke="#1a202c" stroke-width="1.5"/>`,
      `<text x="${(x(Math.max(f.hi, f.median)) + 6).toFixed(1)}" y="${y + 16}">${esc(metric.format(f.median))}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes results.json and `<metric>.svg` for each metric with figures into `dir`; returns the files written. */
export async function writeCharts(dir: URL, results: Results, names: Map<AdapterId, string>, setup: string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const json = {
    setup,
    metrics: METRICS.map((m) => ({
      id: m.id,
      label: m.label,
      target: m.target,
      figures: Object.fromEntries([...(results.cells.get(m.id) ?? new Map()).entries()]),
    })).filter((m) => Object.keys(m.figures).length > 0),
    ceiling: Object.fromEntries(results.ceiling),
    footnotes: results.footnotes,
  };
  const jsonFile = new URL('results.json', dir);
  await writeFile(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  written.push(jsonFile.pathname);
  for (const m of METRICS) {
    const svg = chartSvg(m, results, names);
    if (svg === undefined) continue;
    const file = new URL(`${m.id}.svg`, dir);
    await writeFile(file, svg);
    written.push(file.pathname);
  }
  return written;
}
