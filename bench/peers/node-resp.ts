/**
 * The single-threaded Node RESP server the issue compares with: what a Node
 * user writes today — one `net.Server`, a plain `Map`. Same parser as
 * mini-redis, so the comparison is about threads and the shared store only.
 * `node dist/bench/peers/node-resp.js --port 0` prints `listening on HOST:PORT`.
 */
import { createServer } from 'node:net';
import { NIL, OK, ProtocolError, RespParser, array, bulk, error, int, simple } from '../../examples/mini-redis/resp.js';

const port = Number(process.argv[process.argv.indexOf('--port') + 1] ?? 0);
const db = new Map<string, string>();

function exec(a: string[]): string {
  switch (a[0]!.toUpperCase()) {
    case 'PING':
      return simple('PONG');
    case 'SET':
      db.set(a[1]!, a[2]!);
      return OK;
    case 'GET': {
      const v = db.get(a[1]!);
      return v === undefined ? NIL : bulk(v);
    }
    case 'INCR': {
      const n = Number(db.get(a[1]!) ?? 0) + 1;
      db.set(a[1]!, String(n));
      return int(n);
    }
    case 'CONFIG':
      return a[2] === 'appendonly' ? array([bulk('appendonly'), bulk('no')]) : array([bulk(a[2] ?? ''), bulk('')]);
    default:
      return error(`ERR unknown command '${a[0]}'`);
  }
}

const server = createServer({ noDelay: true }, (socket) => {
  const parser = new RespParser();
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    let out = '';
    try {
      for (const c of parser.push(chunk)) out += exec(c);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      socket.end(error(`ERR Protocol error: ${e.message}`));
      return;
    }
    socket.write(out, 'latin1');
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => process.exit(0));
