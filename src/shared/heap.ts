// PLACEHOLDER until the shared-state branch lands its allocator: same interface,
// power-of-two size classes under one spin lock, never returns memory to the OS.
export interface HeapOptions { initialBytes?: number; maxBytes?: number }
const LOCK = 0, TOP = 1, FREE0 = 2, CLASSES = 32, HDR = 8;
export class SharedHeap {
  readonly buffer: SharedArrayBuffer;
  private i32v: Int32Array;
  private u8v: Uint8Array;
  constructor(opts: HeapOptions = {}, buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(opts.initialBytes ?? 1 << 20, { maxByteLength: opts.maxBytes ?? 1 << 30 });
    this.i32v = new Int32Array(this.buffer);
    this.u8v = new Uint8Array(this.buffer);
    if (!buffer) Atomics.store(this.i32v, TOP, (FREE0 + CLASSES) * 4);
  }
  static fromBuffer(b: SharedArrayBuffer): SharedHeap { return new SharedHeap({}, b); }
  get u8(): Uint8Array { return this.u8v; }
  get i32(): Int32Array { return this.i32v; }
  private lock(): void { while (Atomics.compareExchange(this.i32v, LOCK, 0, 1) !== 0) Atomics.wait(this.i32v, LOCK, 1, 0.01); }
  private unlock(): void { Atomics.store(this.i32v, LOCK, 0); }
  alloc(bytes: number): number {
    let c = 3; while ((1 << c) < bytes + HDR) c++;
    this.lock();
    try {
      const head = Atomics.load(this.i32v, FREE0 + c);
      if (head !== 0) { Atomics.store(this.i32v, FREE0 + c, Atomics.load(this.i32v, head >> 2)); return head + HDR; }
      const at = Atomics.load(this.i32v, TOP); const end = at + (1 << c);
      if (end > this.buffer.byteLength) {
        if (end > this.buffer.maxByteLength) throw new RangeError(`spindle: shared heap exhausted (asked ${bytes} bytes, max ${this.buffer.maxByteLength})`);
        this.buffer.grow(Math.min(this.buffer.maxByteLength, Math.max(end, this.buffer.byteLength * 2)));
      }
      Atomics.store(this.i32v, TOP, end);
      Atomics.store(this.i32v, (at >> 2) + 1, c);
      return at + HDR;
    } finally { this.unlock(); }
  }
  free(offset: number): void {
    const at = offset - HDR; const c = Atomics.load(this.i32v, (at >> 2) + 1);
    this.lock();
    Atomics.store(this.i32v, at >> 2, Atomics.load(this.i32v, FREE0 + c));
    Atomics.store(this.i32v, FREE0 + c, at);
    this.unlock();
  }
  usableSize(offset: number): number { return (1 << Atomics.load(this.i32v, ((offset - HDR) >> 2) + 1)) - HDR; }
}
let global: SharedHeap | undefined;
export function globalHeap(): SharedHeap { return (global ??= new SharedHeap()); }
export function setGlobalHeap(h: SharedHeap): void { global = h; }
