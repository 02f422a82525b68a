declare module 'polylabel' {
  /** The pole of inaccessibility of a polygon (rings of [x, y]) and its distance to the nearest edge. */
  export default function polylabel(polygon: number[][][], precision?: number): [number, number] & { distance: number };
}
