// Runtime.listen(): connections accepted on every worker, real sockets, real clients.
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Runtime, SharedMap, type Listener } from '../../src/index.js';
import { kTerminateWorker } from '../../src/runtime.js';
import { echo } from '../../examples/echo/tasks.js';
import { broken, counted, fibServer, whoami } from '../fixtures/server-tasks.js';
import { STRESS, rejectionOf, within } from '../helpers.js';
import { closed, connectLine, digestOf, socatRoundTrip } from './clients.js';

let rt: Runtime | undefined;
afterEach(async () => {
  await rt?.shutdownNow();
  rt = undefined;
});

/** Polls `cond` on the event loop (never a fixed sleep) until it holds, or fails saying what never happened. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  await within(
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, 5));
    })(),
    ms,
    what,
  );
}

describe('listen', () => {
  it('echoes concurrent socat connections exactly (200 × 256 KiB; 1000 × 1 MiB with SPINDLE_STRESS=1), served by more than one worker', async () => {
    rt = new Runtime({ workers: 2 });
    const server = await rt.listen({ port: 0 }, echo);
    expect(server.host).toBe('127.0.0.1');
    const n = STRESS ? 1000 : 200;
    const size = STRESS ? 1 << 20 : 256 << 10;
    const inputs = Array.from({ length: n }, () => randomBytes(size));
    const outputs = await within(Promise.all(inputs.map((b) => socatRoundTrip(server.port, b))), 120_000, `${n} echo round trips`);
    for (let i = 0; i < n; i++) expect(outputs[i], `connection ${i}`).toBe(digestOf(inputs[i]!));
    const m = rt.metrics().workers;
    expect(m.reduce((s, w) => s + w.connectionsAccepted, 0)).toBe(n);
    expect(m.filter((w) => w.connectionsAccepted > 0).length).toBe(2);
    await server.close();
    expect(rt.metrics().workers.every((w) => w.connectionsOpen === 0)).toBe(true);
  }, 180_000);

  it('runs many connections per worker at once, and their CPU work as ordinary tasks', async () => {
    rt = new Runtime({ workers: 2 });
    const server = await rt.listen({ port: 0 }, fibServer);
    const ask = (n: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect(server.port, '127.0.0.1');
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (c) => (out += c));
        s.on('end', () => resolve(out.trim()));
        s.on('error', reject);
        s.write(`${n}\n`);
      });
    const answers = await within(Promise.all(Array.from({ length: 50 }, (_, i) => ask(15 + (i % 10)))), 30_000, '50 fib answers');
    const fibSeq = (n: number): number => (n < 2 ? n : fibSeq(n - 1) + fibSeq(n - 2));
    answers.forEach((a, i) => expect(a).toBe(String(fibSeq(15 + (i % 10)))));
    await server.close();
  }, 60_000);

  it('passes shared handles to every worker by reference', async () => {
    rt = new Runtime({ workers: 2 });
    const hits = new SharedMap<string, number>();
    const server = await rt.listen({ port: 0 }, counted, hits);
    for (let i = 0; i < 20; i++) {
      const { line } = await connectLine(server.port);
      expect(line).toBe('counted');
    }
    expect(hits.get('n')).toBe(20);
    await server.close();
  });

  it('close() lets a connection finish, destroys it after the timeout, and resolves when all are gone', async () => {
    rt = new Runtime({ workers: 2 });
    const server = await rt.listen({ port: 0 }, whoami);
    const a = await connectLine(server.port);
    const b = await connectLine(server.port);
    expect(rt.metrics().workers.reduce((s, w) => s + w.connectionsOpen, 0)).toBe(2);
    // a ends its side: its task returns; b stays until close()'s timeout destroys it.
    a.socket.end();
    await within(closed(a.socket), 10_000, 'the first connection to close');
    await within(server.close({ timeout: 100 }), 10_000, 'close() to resolve');
    await within(closed(b.socket), 10_000, 'the idle connection to be destroyed');
    expect(rt.metrics().workers.every((w) => w.connectionsOpen === 0)).toBe(true);
    // Nobody accepts any more.
    const refused = connect(server.port, '127.0.0.1');
    const err = await within(new Promise<Error>((r) => refused.once('error', r)), 10_000, 'the connection to be refused');
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('a worker that dies drops only its own connections; its replacement accepts again', async () => {
    rt = new Runtime({ workers: 2 });
    const server = await rt.listen({ port: 0 }, whoami);
    // The kernel picks the worker: connect until both have some (bounded).
    const conns: { socket: Socket; line: string }[] = [];
    for (let i = 0; i < 500 && new Set(conns.map((c) => c.line)).size < 2; i++) conns.push(await connectLine(server.port));
    expect(new Set(conns.map((c) => c.line))).toEqual(new Set(['0', '1']));
    const deaths = rt.metrics().workerDeaths;
    rt[kTerminateWorker](0);
    const on0 = conns.filter((c) => c.line === '0');
    const on1 = conns.filter((c) => c.line === '1');
    await within(Promise.all(on0.map((c) => closed(c.socket))), 10_000, "worker 0's connections to drop");
    for (const c of on1) {
      const back = new Promise<string>((r) => c.socket.once('data', (d) => r(String(d))));
      c.socket.write('still here\n');
      expect(await within(back, 10_000, 'an echo from worker 1')).toBe('still here\n');
    }
    await until(() => rt!.metrics().workerDeaths === deaths + 1, 'the replacement to start');
    let replacement = false;
    for (let i = 0; i < 500 && !replacement; i++) {
      const c = await connectLine(server.port);
      replacement = c.line === '0';
      c.socket.destroy();
    }
    expect(replacement, 'a connection accepted by the replacement of worker 0').toBe(true);
    for (const c of on1) c.socket.destroy();
    await within(server.close(), 10_000, 'close()');
  });

  it('limits connections: one over maxConnections is closed at once', async () => {
    rt = new Runtime({ workers: 2 });
    const server = await rt.listen({ port: 0, maxConnections: 2 }, whoami);
    const a = await connectLine(server.port);
    const b = await connectLine(server.port);
    const c = connect(server.port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d));
    c.on('error', () => {});
    await within(closed(c), 10_000, 'the third connection to be closed');
    expect(got).toBe('');
    a.socket.destroy();
    b.socket.destroy();
    await within(server.close(), 10_000, 'close()');
  });

  it('a connection task that throws closes its connection only', async () => {
    rt = new Runtime({ workers: 1 });
    const server = await rt.listen({ port: 0 }, broken);
    const s = connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    await within(closed(s), 10_000, 'the connection to close');
    expect(rt.metrics().workerDeaths).toBe(0);
    await within(server.close(), 10_000, 'close()');
  });

  it('refuses bad options and a port in use, naming what is wrong', async () => {
    rt = new Runtime({ workers: 1 });
    expect(() => rt!.listen({ port: 70000 }, echo)).toThrow(/option port must be an integer from 0 to 65535/);
    expect(() => rt!.listen({ port: 0, maxConnections: 0 }, echo)).toThrow(RangeError);
    expect(() => rt!.listen({ port: 0, prot: 1 } as never, echo)).toThrow(/unknown listen option 'prot'/);
    expect(() => rt!.listen({ port: 0 }, 'echo' as never)).toThrow(/connectionTask must be a task/);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const e = (await rejectionOf(rt.listen({ port }, echo))) as { code: string; message: string };
    expect(e.code).toBe(ErrorCode.LISTEN_FAILED);
    expect(e.message).toMatch(/EADDRINUSE/);
    taken.close();
  });

  it('shutdown() closes its listeners', async () => {
    const r = new Runtime({ workers: 2 });
    const server: Listener = await r.listen({ port: 0 }, echo);
    await within(r.shutdown(), 10_000, 'shutdown with a listener open');
    const refused = connect(server.port, '127.0.0.1');
    const err = await within(new Promise<Error>((res) => refused.once('error', res)), 10_000, 'the connection to be refused');
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
