/** A single-threaded Node echo server (one `net.Server`, `pipe`): the peer of examples/echo in `npm run bench:servers`. */
import { createServer } from 'node:net';

const port = Number(process.argv[process.argv.indexOf('--port') + 1] ?? 0);
const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => process.exit(0));
