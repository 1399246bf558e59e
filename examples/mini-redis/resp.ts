/**
 * RESP2, incrementally: bytes in, commands out, with limits checked before
 * anything is allocated. Strings are latin1 (one char per byte), so keys and
 * values stay binary-safe and need no Buffer per value.
 */

/** Limits on what one client may send. */
export interface RespLimits {
  /** Largest bulk string, in bytes (Redis' proto-max-bulk-len is 512 MiB; this example keeps it small). */
  maxBulk: number;
  /** Most elements in one command. */
  maxArgs: number;
  /** Longest inline command (`PING\r\n` typed by hand) or header line. */
  maxLine: number;
}

export const DEFAULT_LIMITS: RespLimits = { maxBulk: 8 << 20, maxArgs: 1 << 20, maxLine: 64 << 10 };

/** A client broke the protocol: the reply is `-ERR Protocol error: …` and its connection closes. */
export class ProtocolError extends Error {}

/** Parses commands out of a stream of chunks. */
export class RespParser {
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  /**
   * Bytes the incomplete command at #pos needs in all, once a bulk header said
   * so: chunks are only collected until then, not copied together at each
   * arrival (a large value in small chunks would cost quadratic copying).
   */
  #need = 0;
  #parts: Buffer[] = [];
  #partsLen = 0;

  constructor(private readonly limits: RespLimits = DEFAULT_LIMITS) {}

  /** Adds a chunk and returns every complete command in what has arrived. Throws ProtocolError. */
  push(chunk: Buffer): string[][] {
    if (this.#need > 0) {
      this.#parts.push(chunk);
      this.#partsLen += chunk.length;
      if (this.#partsLen < this.#need) return [];
      this.#buf = Buffer.concat(this.#parts, this.#partsLen);
      this.#parts = [];
      this.#partsLen = 0;
    } else {
      this.#buf = this.#pos < this.#buf.length ? Buffer.concat([this.#buf.subarray(this.#pos), chunk]) : chunk;
    }
    this.#pos = 0;
    this.#need = 0;
    const out: string[][] = [];
    for (;;) {
      const cmd = this.#one();
      if (cmd === null) break;
      if (cmd.length > 0) out.push(cmd);
    }
    if (this.#need > 0) {
      const rest = this.#buf.subarray(this.#pos);
      this.#parts = [rest];
      this.#partsLen = rest.length;
    }
    return out;
  }

  /** One command from #pos, or null if it has not all arrived (nothing consumed then). */
  #one(): string[] | null {
    const buf = this.#buf;
    const start = this.#pos;
    if (start >= buf.length) return null;
    if (buf[start] !== 0x2a /* '*' */) return this.#inline();
    const n = this.#int(start + 1);
    if (n === null) return null;
    if (n.value > this.limits.maxArgs) throw new ProtocolError('invalid multibulk length');
    let at = n.next;
    const args: string[] = [];
    for (let i = 0; i < n.value; i++) {
      if (at >= buf.length) return null;
      if (buf[at] !== 0x24 /* '$' */) throw new ProtocolError(`expected '$', got '${String.fromCharCode(buf[at]!)}'`);
      const len = this.#int(at + 1);
      if (len === null) return null;
      if (len.value < 0 || len.value > this.limits.maxBulk) throw new ProtocolError('invalid bulk length');
      const end = len.next + len.value;
      if (end + 2 > buf.length) {
        // Waits for the bytes; never allocates len.value up front.
        this.#need = end + 2 - start;
        return null;
      }
      if (buf[end] !== 0x0d || buf[end + 1] !== 0x0a) throw new ProtocolError('bulk string not terminated by CRLF');
      args.push(buf.toString('latin1', len.next, end));
      at = end + 2;
    }
    this.#pos = at;
    return args;
  }

  /** An integer header line at `at` (after the type byte): its value and where the next line starts. */
  #int(at: number): { value: number; next: number } | null {
    const buf = this.#buf;
    // Digits by hand, no string: this runs twice per argument.
    let i = at;
    let neg = false;
    if (buf[i] === 0x2d /* '-' */) {
      neg = true;
      i++;
    }
    let value = 0;
    const first = i;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      if (i - first >= 18) throw new ProtocolError('invalid length (too many digits)');
    }
    if (i + 1 >= buf.length) return null; // the line has not all arrived
    if (i === first || buf[i] !== 0x0d || buf[i + 1] !== 0x0a) {
      throw new ProtocolError(`invalid length '${buf.toString('latin1', at, Math.min(buf.length, at + 32)).split('\r')[0]}'`);
    }
    return { value: neg ? -value : value, next: i + 2 };
  }

  /** An inline command: words on one line (what telnet or `PING` by hand sends). */
  #inline(): string[] | null {
    const buf = this.#buf;
    const nl = buf.indexOf(0x0a, this.#pos);
    if (nl === -1) {
      if (buf.length - this.#pos > this.limits.maxLine) throw new ProtocolError('too big inline request');
      return null;
    }
    const line = buf.toString('latin1', this.#pos, nl).replace(/\r$/, '');
    this.#pos = nl + 1;
    return line.split(' ').filter((w) => w !== '');
  }
}

// ───── replies ─────
export const OK = '+OK\r\n';
export const NIL = '$-1\r\n';
export const simple = (s: string): string => `+${s}\r\n`;
export const error = (s: string): string => `-${s}\r\n`;
export const int = (n: number): string => `:${n}\r\n`;
export const bulk = (s: string): string => `$${s.length}\r\n${s}\r\n`;
export const array = (items: string[]): string => `*${items.length}\r\n${items.join('')}`;
