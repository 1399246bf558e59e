/**
 * Module loaders for task modules in runtime workers.
 *
 * A worker imports each task module by its URL. A `.ts` task module needs a
 * TypeScript loader in that worker, and on Node 20 the usual tools do not
 * provide one: tsx registers its hooks on the main thread only (before Node
 * 22.22 / 24.11), and vitest transforms test files in its own module runner,
 * which workers do not share. So before a worker imports its first TypeScript
 * module, and only when this Node cannot strip types by itself, it registers
 * tsx's hooks (ESM and CommonJS) in that worker: the copy the main thread runs
 * under (`tsx main.ts`, `node --import tsx`), else the one the task module's
 * project resolves. Without tsx, the import fails with an error that says what
 * to install.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ERR_TS_LOADER } from './errors.js';

/** What the main thread passes its workers about loaders. */
export interface LoaderHints {
  /** The tsx package folder the main thread runs under, if it does. */
  tsxDir?: string | undefined;
}

let hints: LoaderHints = {};
let tsx: Promise<boolean> | undefined;

/** Called by the worker bootstrap with what the main thread found. */
export function setLoaderHints(h: LoaderHints | undefined): void {
  hints = h ?? {};
}

const TS_EXT = /\.(?:[cm]?ts|tsx)$/i;

/** True when this Node imports `.ts` by itself (type stripping: default on 22.18+ and 23.6+). */
export function nodeStripsTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/** The tsx package folder that `fromFile` resolves, if any. */
export function resolveTsxDir(fromFile: string): string | undefined {
  try {
    return dirname(createRequire(fromFile).resolve('tsx/package.json'));
  } catch {
    return undefined;
  }
}

async function registerTsx(dir: string): Promise<boolean> {
  const esm = join(dir, 'dist/esm/api/index.mjs');
  const cjs = join(dir, 'dist/cjs/api/index.mjs');
  if (!existsSync(esm)) return false;
  const api = (await import(pathToFileURL(esm).href)) as { register(): unknown };
  api.register();
  if (existsSync(cjs)) ((await import(pathToFileURL(cjs).href)) as { register(): unknown }).register();
  return true;
}

/** Makes sure this worker can import the TypeScript module at `url`; false if it cannot. */
function ensureTsLoader(url: string): Promise<boolean> {
  return (tsx ??= (async () => {
    const candidates = [hints.tsxDir];
    if (url.startsWith('file:')) candidates.push(resolveTsxDir(fileURLToPath(url)));
    candidates.push(resolveTsxDir(join(process.cwd(), 'noop.js')));
    for (const dir of candidates) {
      if (dir !== undefined && (await registerTsx(dir).catch(() => false))) return true;
    }
    return false;
  })());
}

/**
 * Imports a task module in a runtime worker, first registering a TypeScript
 * loader if the module needs one this thread lacks.
 */
export async function importTaskModule(url: string): Promise<unknown> {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // not a URL: import() reports it
  }
  if (TS_EXT.test(path) && !nodeStripsTypes() && !(await ensureTsLoader(url))) throw new Error(ERR_TS_LOADER(url));
  return import(url);
}
