/**
 * The HTTP server: `/cheap` answers at once, `/heavy?p=…` derives a key — on
 * the event loop (`inline`), in piscina, or in a spindle task. Only where the
 * heavy job runs differs between the three.
 */
import { createServer, type Server } from 'node:http';
import { Piscina } from 'piscina';
import { Runtime } from '../../src/index.js';
import { heavy } from './tasks.js';
import { derive } from './work.js';

export type Mode = 'inline' | 'piscina' | 'spindle';
export const MODES: readonly Mode[] = ['inline', 'piscina', 'spindle'];

export interface OffloadServer {
  server: Server;
  /** Stops the pool or runtime behind it (the HTTP server is closed by the caller). */
  stop(): Promise<void>;
}

export function createOffloadServer(mode: Mode, workers: number): OffloadServer {
  let run: (p: string) => Promise<string>;
  let stop = async (): Promise<void> => {};
  if (mode === 'inline') {
    run = async (p) => derive(p);
  } else if (mode === 'piscina') {
    const pool = new Piscina({ filename: new URL('./piscina-worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers });
    run = (p) => pool.run(p) as Promise<string>;
    stop = () => pool.destroy();
  } else {
    const rt = new Runtime({ workers });
    run = (p) => rt.spawn(heavy, p);
    stop = () => rt.shutdown();
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/cheap') {
      res.end('ok');
      return;
    }
    if (url.pathname === '/heavy') {
      run(url.searchParams.get('p') ?? 'password').then(
        (key) => res.end(key),
        (e: Error) => {
          res.statusCode = 500;
          res.end(e.message);
        },
      );
      return;
    }
    res.statusCode = 404;
    res.end('try /cheap or /heavy?p=secret');
  });
  return { server, stop };
}
