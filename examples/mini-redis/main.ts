/**
 * `npm run mini-redis -- --port 6380 --workers 2`: a Redis-compatible server
 * (RESP2) whose connections are served on every worker, with one store in
 * shared memory. No authentication: it binds 127.0.0.1 unless `--host` says
 * otherwise — give another host only on a network you trust.
 */
import { Runtime, SharedMap, broadcast } from '../../src/index.js';
import { parseServerArgs } from '../server-args.js';
import { type Message, serve, sweep } from './tasks.js';

/** How often the sweeper task runs (tokio's mini-redis purges at the next expiry; a fixed tick is simpler here). */
const SWEEP_MS = 1000;

const { port, host, workers } = parseServerArgs(process.argv.slice(2), {
  port: 6380,
  usage: 'npm run mini-redis -- [--port 6380] [--host 127.0.0.1] [--workers N]',
});
const rt = new Runtime({ workers });
const store = new SharedMap<string, string>({ shards: 256, name: 'mini-redis store' });
const subscribers = new SharedMap<string, number>({ name: 'mini-redis subscribers' });
const [bus, firstReceiver] = broadcast<Message>(1024);
firstReceiver.drop(); // connections subscribe their own
const server = await rt.listen({ port, host, maxConnections: 10_000 }, serve, store, bus, subscribers);

let sweeping = false;
const sweeper = setInterval(() => {
  if (sweeping) return;
  sweeping = true;
  void rt.spawn(sweep, store).finally(() => (sweeping = false));
}, SWEEP_MS);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(sweeper);
  void server
    .close()
    .then(() => {
      console.log(`connections per worker: ${rt.metrics().workers.map((w) => w.connectionsAccepted).join(' ')}`);
      return rt.shutdown();
    })
    .then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Printed last: whoever waits for this line may signal at once.
console.log(`listening on ${server.host}:${server.port}`);
