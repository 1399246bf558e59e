import { describe, expect, it } from 'vitest';
import { SpinWindow } from '../../src/shared/spin-window.js';

describe('SpinWindow', () => {
  it('halves on each miss down to min, restores on a hit, and probes at full length every probeEvery-th wait', () => {
    const w = new SpinWindow(50_000, 3_000, 8);
    const lens: number[] = [];
    for (let i = 0; i < 7; i++) {
      lens.push(w.next());
      w.miss();
    }
    expect(lens).toEqual([50_000, 25_000, 12_500, 6_250, 3_125, 3_000, 3_000]);
    expect(w.next()).toBe(50_000); // the 8th: a probe
    expect(w.next()).toBe(3_000); // the shrunken length is back after the probe
    w.hit();
    expect(w.next()).toBe(50_000);
    for (let i = 0; i < 100; i++) w.miss();
    expect(w.next()).toBe(3_000); // never below min
  });
});
