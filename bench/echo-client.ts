/**
 * Echo load in its own process: `node dist/bench/echo-client.js PORT CONNECTIONS BYTES`
 * opens the connections at once, each sends BYTES and reads them back (checked
 * by length), and prints `{ "bytesPerSecond": … }` — bytes echoed (one way) per second.
 */
import { connect } from 'node:net';

const [port, conns, bytes] = process.argv.slice(2).map(Number) as [number, number, number];
const chunk = Buffer.alloc(64 << 10, 7);

function one(): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = 0;
    let sent = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= bytes) {
        s.destroy();
        resolve();
      }
    });
    s.on('error', reject);
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          s.once('drain', pump);
          return;
        }
      }
    };
    s.on('connect', pump);
  });
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conns }, one));
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ bytesPerSecond: (conns * bytes) / s, seconds: s }));
