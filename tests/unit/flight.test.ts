import { describe, expect, it } from 'vitest';
import { slowFlight } from '../../web/map/flight.ts';

describe('a map’s flight timed by its frames', () => {
  it('is a slide show below eight frames a second, by the middle gap (one stall does not make it one; nor do no frames at all)', () => {
    const at = (gaps: number[]) => gaps.reduce((t, g) => [...t, t.at(-1)! + g], [0]);
    expect(slowFlight(at([16, 17, 16, 300, 16]))).toBe(false);
    expect(slowFlight(at([250, 280, 240]))).toBe(true);
    expect(slowFlight(at([130, 124, 126]))).toBe(true);
    expect(slowFlight(at([100, 110, 120]))).toBe(false);
    // no frames: a view already there
    expect(slowFlight([])).toBe(false);
    expect(slowFlight(at([900]))).toBe(true); // two frames in a 600 ms flight
  });
});
