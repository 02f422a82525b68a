/**
 * Snapping for drawing: a pointer within `tolerancePx` of a vertex of a neighbouring border snaps
 * to it; otherwise within the tolerance of a segment it snaps onto the segment. Works in screen
 * pixels, so the feel is the same at every zoom. Knows nothing of the map library.
 */
export type LngLat = [number, number];
export interface Projector {
  project(p: LngLat): { x: number; y: number };
}

export function snapToLines(
  pointer: { x: number; y: number },
  lines: readonly (readonly LngLat[])[],
  projector: Projector,
  tolerancePx = 10,
): LngLat | undefined {
  let vertex: { p: LngLat; d: number } | undefined;
  let segment: { p: LngLat; d: number } | undefined;
  for (const line of lines) {
    let prev: { x: number; y: number } | undefined;
    for (let i = 0; i < line.length; i++) {
      const ll = line[i]!;
      const q = projector.project(ll);
      const dv = Math.hypot(q.x - pointer.x, q.y - pointer.y);
      if (dv <= tolerancePx && (!vertex || dv < vertex.d)) vertex = { p: ll, d: dv };
      if (prev && i > 0) {
        // Closest point of segment prev→q to the pointer, as a fraction t along it.
        const dx = q.x - prev.x;
        const dy = q.y - prev.y;
        const len2 = dx * dx + dy * dy;
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((pointer.x - prev.x) * dx + (pointer.y - prev.y) * dy) / len2));
        const ds = Math.hypot(prev.x + t * dx - pointer.x, prev.y + t * dy - pointer.y);
        if (ds <= tolerancePx && (!segment || ds < segment.d)) {
          const a = line[i - 1]!;
          // Interpolating lon/lat linearly matches our edges: they are straight in lon/lat.
          segment = { p: [a[0] + t * (ll[0] - a[0]), a[1] + t * (ll[1] - a[1])], d: ds };
        }
      }
      prev = q;
    }
  }
  return vertex?.p ?? segment?.p;
}
