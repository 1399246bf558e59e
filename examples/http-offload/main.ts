/**
 * `npm run http-offload -- --mode spindle --port 8080 --workers 2`: an HTTP
 * server with a cheap endpoint and a CPU-heavy one, the heavy one run inline,
 * in piscina or in spindle tasks (`--mode`). Prints `listening on HOST:PORT`;
 * SIGINT/SIGTERM close it and exit 0.
 */
import { MODES, createOffloadServer, type Mode } from './server.js';
import { parseServerArgs } from '../server-args.js';

const argv = process.argv.slice(2);
const at = argv.findIndex((a) => a === '--mode' || a.startsWith('--mode='));
let mode: Mode = 'spindle';
if (at !== -1) {
  const v = argv[at]!.includes('=') ? argv[at]!.split('=')[1]! : argv[at + 1]!;
  argv.splice(at, argv[at]!.includes('=') ? 1 : 2);
  if (!MODES.includes(v as Mode)) {
    process.stderr.write(`--mode must be one of ${MODES.join(', ')}, got '${v}'\n`);
    process.exit(2);
  }
  mode = v as Mode;
}
const { port, host, workers } = parseServerArgs(argv, {
  port: 8080,
  usage: 'npm run http-offload -- [--mode inline|piscina|spindle] [--port 8080] [--host 127.0.0.1] [--workers N]',
});
const { server, stop } = createOffloadServer(mode, workers);
server.listen(port, host, () => {
  const a = server.address() as { address: string; port: number };
  const quit = (): void => {
    server.closeAllConnections();
    server.close(() => void stop().then(() => process.exit(0)));
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  console.log(`listening on ${a.address}:${a.port} (${mode})`);
});
