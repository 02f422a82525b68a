import { classShade, quantileBreaks } from '../lib/classes.ts';
import { HeatmapLayer } from '@deck.gl/aggregation-layers';
import type { Layer } from '@deck.gl/core';
import { GeoJsonLayer, PolygonLayer } from '@deck.gl/layers';
import { MapboxOverlay } from '@deck.gl/mapbox';
import { interpolateYlOrRd } from 'd3-scale-chromatic';
// deck.gl's overlay is written against Mapbox's control interface, which MapLibre's matches at run time.
import type { IControl, Map as MapLibreMap } from 'maplibre-gl';
import { metresPerDegree } from '../../server/domain/local-frame.ts';
import type { Heat, Hotspot, Mode } from '../state/analysis.svelte.ts';

type Rgba = [number, number, number, number];
type Cell = Heat['cells'][number];
/** 网格分级: each grid's class (id → index into `colors`), for the map to colour its grid tiles with. */
export type GridClasses = { classes: Map<number, number>; colors: string[] };

/** A colour of the yellow–orange–red ramp for t in 0…1. */
export function ramp(t: number, alpha = 220): Rgba {
  const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(interpolateYlOrRd(0.12 + 0.88 * Math.min(1, Math.max(0, t))))!;
  return [Number(m[1]), Number(m[2]), Number(m[3]), alpha];
}

/** deck.gl's heatmap kernel (weights-fs.glsl): a point's weight times this at a distance u of the radius (u ≤ 1). */
const kernel = (u: number) => Math.exp((-u * u) / 0.05555) / (1.77245385 * 0.166666);

/**
 * The heatmap's highest value, as deck.gl sums it in its weights texture: each cell's weight spread
 * by the kernel over `radiusM`, read at the cell centres. Lets a scale be kept fixed across frames.
 */
export function heatPeak(cells: readonly Cell[], radiusM: number): number {
  if (cells.length === 0 || !(radiusM > 0)) return 0;
  const { kx, ky } = metresPerDegree(cells[0]!.lat);
  const bins = new Map<string, number[]>();
  const key = (i: number, j: number) => `${i}:${j}`;
  const xy = cells.map((c) => [c.lon * kx, c.lat * ky] as const);
  xy.forEach(([x, y], n) => {
    const k = key(Math.floor(x / radiusM), Math.floor(y / radiusM));
    const bin = bins.get(k);
    if (bin) bin.push(n);
    else bins.set(k, [n]);
  });
  let peak = 0;
  xy.forEach(([x, y]) => {
    const [i, j] = [Math.floor(x / radiusM), Math.floor(y / radiusM)];
    let sum = 0;
    for (let di = -1; di <= 1; di++)
      for (let dj = -1; dj <= 1; dj++)
        for (const n of bins.get(key(i + di, j + dj)) ?? []) {
          const u = Math.hypot(xy[n]![0] - x, xy[n]![1] - y) / radiusM;
          if (u <= 1) sum += cells[n]!.count * kernel(u);
        }
    peak = Math.max(peak, sum);
  });
  return peak;
}

/** A heatmap whose colour scale can be held at a peak (in the weights texture's own units) rather than each frame's maximum. */
class FixedHeatmapLayer extends HeatmapLayer<Cell, { fixedPeak: number | null }> {
  static override layerName = 'FixedHeatmapLayer';
  override _updateWeightmap(): void {
    super._updateWeightmap();
    const peak = this.props.fixedPeak;
    const scale = this.state.weightsScale ?? 1;
    if (peak) this.state.colorDomain = [peak * this.props.threshold * scale, peak * scale];
  }
}

/** The heatmap's least kernel radius on the ground (its Gaussian's sigma is a sixth of it, about 100 m). */
export const HEAT_RADIUS_M = 600;
/** The finest zoom the heatmap's cells are asked at (about 100 m cells; the kernel is wider). */
export const HEAT_CELL_ZOOM = 15;

/** Ground metres per screen pixel at a zoom and latitude (Web Mercator, 512-pixel tiles as MapLibre draws them). */
export const metresPerPixel = (zoom: number, lat: number) => (78_271.517 * Math.cos((lat * Math.PI) / 180)) / 2 ** zoom;

/** The corners of a pointy-top hexagon of width `sizeM` (across flats) around a lon/lat centre. */
function hexagon(c: Cell, sizeM: number): [number, number][] {
  const r = sizeM / Math.sqrt(3);
  const { kx, ky } = metresPerDegree(c.lat);
  return Array.from({ length: 7 }, (_, i) => {
    const a = (Math.PI / 3) * (i % 6) + Math.PI / 6;
    return [c.lon + (r * Math.cos(a)) / kx, c.lat + (r * Math.sin(a)) / ky] as [number, number];
  });
}

/**
 * deck.gl drawn over the MapLibre map (overlaid, not interleaved: MapLibre 6 refuses the
 * interleaved mode): a heatmap or hexagons from the server's cells; for grids coloured by incidents
 * per 100 households, their classes (the map colours its own grid tiles). The browser only draws; the server aggregates.
 */
export class IncidentOverlay {
  private readonly overlay = new MapboxOverlay({ interleaved: false, layers: [] });
  /** The scale each mode was held at (null: every frame its own). */
  private held: { heatmap?: { peak: number; max: number }; hexagon?: number; grids?: number[] } | null = null;
  /** A region outlined above the incidents (deck.gl draws over the map's own layers). */
  private outline: GeoJSON.Feature | null = null;

  /** Outlines a region above everything (null: none); takes effect with the next frame. */
  setOutline(feature: GeoJSON.Feature | null): void {
    this.outline = feature;
  }

  /**
   * `blend`: how the incidents' colours mix with the map under them, so that the map's names show through a heatmap (an
   * overlaid deck.gl canvas lies over every map layer, labels too): `multiply` over a light map (dark names stay dark),
   * `screen` over a dark one (light names stay light). The canvas is moved beside the map's own, out of the control
   * corner whose stacking context would leave it nothing to blend with.
   */
  constructor(map: MapLibreMap, blend: 'multiply' | 'screen' = 'multiply') {
    map.addControl(this.overlay as unknown as IControl);
    const canvas = map.getContainer().querySelector<HTMLCanvasElement>('canvas#deckgl-overlay');
    const wrapper = canvas?.parentElement;
    if (canvas && wrapper) {
      map.getCanvasContainer().appendChild(wrapper);
      canvas.style.mixBlendMode = blend;
      // a picture over the map, not a control: deck.gl's input handling makes it a nameless Tab stop once its device is
      // ready (the map's own canvas is the one that moves), so it is taken out again then
      const quiet = () => {
        canvas.tabIndex = -1;
        canvas.setAttribute('aria-hidden', 'true');
      };
      quiet();
      this.overlay.setProps({ onLoad: quiet });
    }
  }

  /** Holds the colour scale where the next frame puts it (per mode), or lets every frame set its own again. */
  holdScale(on: boolean): void {
    if (!on) this.held = null;
    else this.held ??= {};
  }

  /**
   * Draws a frame. `zoom` is the map's: zoomed in past the cells' own size the heatmap's radius grows
   * with them, so streets show a surface, not a lattice of dots at the cell centres.
   */
  update(
    mode: Mode,
    heat: Heat | null,
    hotspots: Hotspot[],
    scale = 1,
    zoom?: number,
  ): { max: number; breaks: number[] | null; held: boolean; grids: GridClasses | null } {
    const cells = heat?.cells ?? [];
    let layers: Layer[] = [];
    let max = 0;
    let breaks: number[] | null = null;
    let grids: GridClasses | null = null;
    const held = this.held;
    if (mode === 'heatmap') {
      max = cells.reduce((m, c) => Math.max(m, c.count), 0);
      const mpp = zoom === undefined || cells.length === 0 ? 0 : metresPerPixel(zoom, cells[0]!.lat);
      // A kernel at least HEAT_RADIUS_M wide on the ground: zoomed to streets the incidents (binned to cells of
      // about 100 m there) melt into one surface instead of a lattice of dots at the cell centres.
      const radiusPixels = Math.min(400, Math.max(28 * scale, mpp > 0 ? Math.max(HEAT_RADIUS_M, 4 * (heat?.cell.sizeM ?? 0)) / mpp : 0));
      let fixedPeak: number | null = null;
      if (held) {
        held.heatmap ??= max > 0 ? { peak: heatPeak(cells, radiusPixels * mpp), max } : undefined;
        fixedPeak = held.heatmap?.peak ?? null;
        max = held.heatmap?.max ?? max;
      }
      layers = [
        new FixedHeatmapLayer({
          id: 'heat',
          data: cells,
          getPosition: (c) => [c.lon, c.lat],
          getWeight: (c) => c.count,
          radiusPixels,
          fixedPeak,
          // a colour domain makes deck.gl re-run the weights when the held peak changes; the layer then puts its own
          colorDomain: fixedPeak ? [0, fixedPeak] : null,
          intensity: 1.2,
          threshold: 0.04,
          aggregation: 'SUM',
          // The weights are summed into a 512² texture, not deck.gl's default 2048²: 16× fewer fragments per
          // frame. Drawn in software (SwiftShader) the analyze view's first view took 20 s of GPU time, now 6 s,
          // and the 4K wall 41 s, now 28 s; the pictures differ by at most 16 of 255 levels in 0.01% of pixels
          // (kernels are at least 28 px wide, so a coarser weight grid blurs nothing that shows).
          weightsTextureSize: 512,
          colorRange: [0.1, 0.3, 0.5, 0.7, 0.85, 1].map((t) => ramp(t, 255).slice(0, 3) as [number, number, number]),
        }),
      ];
    } else if (mode === 'hexagon') {
      max = cells.reduce((m, c) => Math.max(m, c.count), 0);
      if (held) max = held.hexagon ??= max;
      const size = heat?.cell.sizeM ?? 1000;
      layers = [
        new PolygonLayer<Cell>({
          id: 'hexagons',
          data: cells,
          getPolygon: (c) => hexagon(c, size * 0.94),
          filled: true,
          stroked: false,
          getFillColor: (c) => ramp(Math.sqrt(c.count / Math.max(max, 1)), 210),
          pickable: false,
          updateTriggers: { getFillColor: max, getPolygon: size },
        }),
      ];
    } else if (mode === 'grids') {
      const rate = new Map(hotspots.map((h) => [h.id, h.households > 0 ? (100 * h.count) / h.households : 0]));
      // Five classes of equal size (quintiles of the grids with any report), and none: a skewed rate
      // (a grid of two households with a few reports) no longer paints the rest one colour.
      breaks = quantileBreaks([...rate.values()]);
      if (held) breaks = held.grids ??= breaks;
      max = breaks.at(-1) ?? 0;
      const b = breaks;
      const classOf = (v: number) => (v <= 0 ? 0 : 1 + b.filter((x) => v > x).length);
      // the map colours its own grid tiles by these (a city's 21,600 outlines would be 12 MB of GeoJSON)
      grids = {
        classes: new Map([...rate].map(([id, v]) => [id, classOf(v)])),
        colors: Array.from({ length: b.length + 2 }, (_, k) => {
          const [r, g, bl] = ramp(classShade(k, b.length));
          return `rgb(${r},${g},${bl})`;
        }),
      };
    }
    if (this.outline) {
      const data = { type: 'FeatureCollection' as const, features: [this.outline] };
      for (const [id, color, width] of [
        ['outline-casing', [255, 255, 255, 230], 6],
        ['outline', [33, 37, 41, 255], 3],
      ] as const) {
        layers.push(
          new GeoJsonLayer({ id, data, filled: false, stroked: true, getLineColor: [...color], lineWidthMinPixels: width, lineWidthUnits: 'pixels' }),
        );
      }
    }
    this.overlay.setProps({ layers });
    return { max, breaks, held: held !== null, grids };
  }

  destroy(map: MapLibreMap): void {
    map.removeControl(this.overlay as unknown as IControl);
  }
}
