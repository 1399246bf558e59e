// Real clients for the server tests: node:net sockets and socat (Debian's, which .ci/run installs).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { within } from '../helpers.js';

/** Sends `data` through socat (half-closing after it) and resolves with the length and SHA-256 of every byte that came back ({@link digestOf}). `-t 120`: socat's default waits only 0.5 s for the echo after its input ends. */
export function socatRoundTrip(port: number, data: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let length = 0;
    const p = spawn('socat', ['-b65536', '-t', '120', '-', `TCP:127.0.0.1:${port},shut-down`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    p.stdout.on('data', (c: Buffer) => {
      length += c.length;
      hash.update(c);
    });
    p.stderr.on('data', (c: Buffer) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(`${length}:${hash.digest('hex')}`) : reject(new Error(`socat exited with ${code}: ${err}`))));
    p.stdin.end(data);
  });
}

/** A connected socket, and the first line it receives. */
export async function connectLine(port: number): Promise<{ socket: Socket; line: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buf = '';
  const line = await within(
    new Promise<string>((resolve, reject) => {
      const onData = (c: string): void => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl !== -1) {
          socket.off('data', onData);
          resolve(buf.slice(0, nl));
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`connection closed before a line arrived (got '${buf}')`)));
    }),
    10_000,
    'the first line from the server',
  );
  return { socket, line };
}

/** Resolves when the socket has closed (the server ended or destroyed it). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** What {@link socatRoundTrip} resolves with when exactly `data` came back. */
export const digestOf = (data: Buffer): string => `${data.length}:${createHash('sha256').update(data).digest('hex')}`;
