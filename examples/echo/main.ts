/**
 * `npm run echo -- --port 7000 --workers 2`: an echo server whose connections
 * are accepted and served on every worker. Prints `listening on HOST:PORT`
 * once every worker listens; SIGINT or SIGTERM closes it gracefully and the
 * process exits 0.
 */
import { Runtime } from '../../src/index.js';
import { parseServerArgs } from '../server-args.js';
import { echo } from './tasks.js';

const { port, host, workers } = parseServerArgs(process.argv.slice(2), { port: 7000, usage: 'npm run echo -- [--port 7000] [--host 127.0.0.1] [--workers N]' });
const rt = new Runtime({ workers });
const server = await rt.listen({ port, host }, echo);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void server
    .close()
    .then(() => {
      // Which workers served: the tests check that the kernel spread the connections.
      console.log(`connections per worker: ${rt.metrics().workers.map((w) => w.connectionsAccepted).join(' ')}`);
      return rt.shutdown();
    })
    .then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Printed last: whoever waits for this line may signal at once.
console.log(`listening on ${server.host}:${server.port}`);
