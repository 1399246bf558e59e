// examples/mini-redis run as `npm run mini-redis` runs it, driven by ioredis, redis-cli and raw sockets.
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRESS, within } from '../helpers.js';
import { closed } from './clients.js';
import { startExample, type RunningExample } from './example.js';

const run = promisify(execFile);
let ex: RunningExample;
const clients: Redis[] = [];

function client(): Redis {
  const r = new Redis({ port: ex.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: false });
  clients.push(r);
  return r;
}
const workerOf = async (r: Redis): Promise<string> => String(await r.call('CLIENT', 'INFO'));

/** Raw bytes in, everything the server sent until it closed (or until `until` matches). */
function raw(bytes: string, until?: RegExp): Promise<{ reply: string; socket: Socket }> {
  return within(
    new Promise((resolve, reject) => {
      const s = connect(ex.port, '127.0.0.1');
      let reply = '';
      s.setEncoding('latin1');
      s.on('data', (d) => {
        reply += d;
        if (until?.test(reply)) resolve({ reply, socket: s });
      });
      s.on('close', () => resolve({ reply, socket: s }));
      s.on('error', reject);
      s.write(bytes, 'latin1');
    }),
    10_000,
    `a reply to ${JSON.stringify(bytes.slice(0, 40))}`,
  );
}

async function until(cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  await within(
    (async () => {
      while (!(await cond())) await new Promise((r) => setTimeout(r, 10));
    })(),
    ms,
    what,
  );
}

beforeAll(async () => {
  ex = await startExample('mini-redis', ['--port', '0', '--workers', '2']);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  expect(await ex.stop('SIGTERM')).toBe(0);
});

describe('examples/mini-redis', () => {
  it('answers every command (ioredis)', async () => {
    const r = client();
    expect(await r.ping()).toBe('PONG');
    expect(await r.ping('hi')).toBe('hi');
    expect(await r.echo('x y')).toBe('x y');
    expect(await r.set('k', 'v')).toBe('OK');
    expect(await r.get('k')).toBe('v');
    expect(await r.get('missing')).toBeNull();
    expect(await r.set('k', 'w', 'NX')).toBeNull();
    expect(await r.set('k', 'w', 'XX')).toBe('OK');
    expect(await r.set('nk', 'w', 'XX')).toBeNull();
    expect(await r.set('e', '1', 'EX', 100)).toBe('OK');
    expect(await r.ttl('e')).toBe(100);
    expect(await r.ttl('k')).toBe(-1);
    expect(await r.ttl('missing')).toBe(-2);
    expect(await r.expire('k', 50)).toBe(1);
    expect(await r.expire('missing', 50)).toBe(0);
    expect(await r.exists('k', 'e', 'missing')).toBe(2);
    expect(await r.incr('n')).toBe(1);
    expect(await r.incrby('n', 10)).toBe(11);
    expect(await r.decr('n')).toBe(10);
    await expect(r.incr('k')).rejects.toThrow(/not an integer/);
    expect(await r.mset('a', '1', 'b', '2')).toBe('OK');
    expect(await r.mget('a', 'b', 'missing')).toEqual(['1', '2', null]);
    expect(await r.del('a', 'b', 'missing')).toBe(2);
    expect(await r.call('CONFIG', 'GET', 'save')).toEqual(['save', '']);
    await expect(r.call('NOPE', 'x')).rejects.toThrow(/ERR unknown command 'NOPE'/);
    await expect(r.call('GET')).rejects.toThrow(/wrong number of arguments for 'get'/);
    const binary = Buffer.from([0, 255, 13, 10, 128, 7]);
    await r.set('bin', binary);
    expect((await r.getBuffer('bin'))!.equals(binary)).toBe(true);
    expect(await r.dbsize()).toBeGreaterThan(0);
    expect(await r.flushall()).toBe('OK');
    expect(await r.dbsize()).toBe(0);
    expect(await r.quit()).toBe('OK');
  });

  it('shares the store between workers, expiry included (lazy and swept)', async () => {
    // Connect until two clients sit on different workers (the kernel picks).
    const a = client();
    const wa = await workerOf(a);
    let b = client();
    for (let i = 0; i < 200 && (await workerOf(b)) === wa; i++) b = client();
    expect(await workerOf(b)).not.toBe(wa);
    await a.set('shared', 'from a');
    expect(await b.get('shared')).toBe('from a');
    await a.set('soon', 'x', 'PX', 30);
    await until(async () => (await b.get('soon')) === null, 'the key to expire on the other worker');
    await a.flushall();
    await a.set('swept', 'x', 'PX', 10);
    await until(async () => (await b.dbsize()) === 0, 'the sweeper to delete a key nobody reads', 15_000);
  });

  it('delivers PUBLISH to a subscriber on another worker', async () => {
    const pub = client();
    const wp = await workerOf(pub);
    let sub = client();
    for (let i = 0; i < 200 && (await workerOf(sub)) === wp; i++) sub = client();
    expect(await workerOf(sub)).not.toBe(wp);
    const got: string[] = [];
    sub.on('message', (ch: string, m: string) => got.push(`${ch}:${m}`));
    await sub.subscribe('news');
    expect(await pub.publish('news', 'one')).toBe(1);
    expect(await pub.publish('other', 'ignored')).toBe(0);
    expect(await pub.publish('news', 'two')).toBe(1);
    await until(async () => got.length === 2, 'both messages');
    expect(got).toEqual(['news:one', 'news:two']);
    await sub.unsubscribe('news');
    expect(await pub.publish('news', 'three')).toBe(0);
  });

  it('answers pipelines and many clients, every reply checked', async () => {
    const n = 50;
    const per = STRESS ? 10_000 : 1_000;
    await Promise.all(
      Array.from({ length: n }, async (_, c) => {
        const r = client();
        const p = r.pipeline();
        for (let i = 0; i < per; i++) {
          if (i % 3 === 0) p.set(`c${c}:${i}`, `v${i}`);
          else if (i % 3 === 1) p.get(`c${c}:${i - 1}`);
          else p.incr(`c${c}:count`);
        }
        const replies = (await within(p.exec(), 60_000, `client ${c}'s pipeline`))!;
        let count = 0;
        replies.forEach(([err, v], i) => {
          expect(err).toBeNull();
          if (i % 3 === 0) expect(v).toBe('OK');
          else if (i % 3 === 1) expect(v).toBe(`v${i - 1}`);
          else expect(v).toBe(++count);
        });
      }),
    );
  }, 120_000);

  it('works with redis-cli', async () => {
    const cli = (...args: string[]): Promise<string> => run('redis-cli', ['-p', String(ex.port), ...args]).then((r) => r.stdout.trim());
    expect(await cli('PING')).toBe('PONG');
    expect(await cli('SET', 'cli', 'hello')).toBe('OK');
    expect(await cli('GET', 'cli')).toBe('hello');
    expect(await cli('INCRBY', 'cli:n', '5')).toBe('5');
    expect(await cli('DEL', 'cli', 'cli:n')).toBe('2');
    // redis-benchmark asks CONFIG GET first, then checks the reply type of each request.
    const bench = await run('redis-benchmark', ['-p', String(ex.port), '-t', 'ping,set,get,incr,mset', '-n', '2000', '-c', '10', '-q']);
    for (const t of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'MSET \\(10 keys\\)']) expect(bench.stdout).toMatch(new RegExp(`${t}: [\\d.]+ requests per second`));
  }, 60_000);

  it('closes only the connection that breaks the protocol', async () => {
    const r = client();
    await r.set('alive', 'yes');
    const bad = await raw('*1\r\n#oops\r\n');
    expect(bad.reply).toMatch(/^-ERR Protocol error: expected '\$', got '#'\r\n$/);
    const huge = await raw('*1\r\n$99999999999\r\n');
    expect(huge.reply).toMatch(/^-ERR Protocol error: invalid bulk length\r\n$/);
    const many = await raw('*99999999\r\n');
    expect(many.reply).toMatch(/^-ERR Protocol error: invalid multibulk length\r\n$/);
    const unknown = await raw('*1\r\n$4\r\nNOPE\r\n', /\r\n$/);
    expect(unknown.reply).toMatch(/^-ERR unknown command 'NOPE'/);
    unknown.socket.destroy();
    expect(await r.get('alive')).toBe('yes');
  });

  it('is not held up by a client that stalls mid-command or leaves mid-command', async () => {
    const stalled = connect(ex.port, '127.0.0.1');
    stalled.write('*3\r\n$3\r\nSET\r\n$1\r\nk');
    const left = connect(ex.port, '127.0.0.1');
    left.write('*2\r\n$3\r\nGET\r\n$10\r\nabc', () => left.destroy());
    await closed(left);
    const r = client();
    expect(await r.ping()).toBe('PONG');
    stalled.destroy();
    expect(await r.ping()).toBe('PONG');
  });

  it('survives clients that leave mid-reply, or pipeline more than they read', async () => {
    const r = client();
    await r.set('big', 'x'.repeat(1 << 20));
    const cmd = '*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n';
    // Leaves after the first bytes of a reply of 8 MiB.
    const early = connect(ex.port, '127.0.0.1');
    early.once('data', () => early.destroy());
    early.write(cmd.repeat(8));
    await within(closed(early), 10_000, 'the early leaver to close');
    // Asks for 200 MiB and reads nothing: its connection stops being read (backpressure), nobody else waits.
    const greedy = connect(ex.port, '127.0.0.1');
    greedy.on('error', () => {});
    greedy.pause();
    greedy.write(cmd.repeat(200));
    expect(await r.ping()).toBe('PONG');
    greedy.destroy();
    await closed(greedy);
    expect(await r.ping()).toBe('PONG');
    expect((await r.get('big'))!.length).toBe(1 << 20);
  });

  it('holds many connections open at once', async () => {
    const n = STRESS ? 5000 : 1000;
    const socks = await within(
      Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise<Socket>((resolve, reject) => {
              const s = connect(ex.port, '127.0.0.1', () => resolve(s));
              s.on('error', reject);
            }),
        ),
      ),
      60_000,
      `${n} connections`,
    );
    // Every one of them is served: a PING on each.
    const pongs = await within(
      Promise.all(
        socks.map(
          (s) =>
            new Promise<string>((resolve) => {
              s.once('data', (d) => resolve(String(d)));
              s.write('PING\r\n');
            }),
        ),
      ),
      60_000,
      `${n} PONGs`,
    );
    expect(pongs.every((p) => p === '+PONG\r\n')).toBe(true);
    for (const s of socks) s.destroy();
  }, 120_000);
});
