// tasks.ts — loaded by the producer and by every machine (no side effects here)
import { spawn, task } from 'spindle';

export const renderPage = task('reports/render-page', function renderPage(report: string, page: number): string {
  return `${report} page ${page}`; // CPU work goes here
});

export const render = task('reports/render', async function render(report: string, pages: number): Promise<string[]> {
  const parts = [];
  for (let p = 1; p <= pages; p++) parts.push(spawn(renderPage, report, p)); // on this machine's workers
  return Promise.all(parts);
});
