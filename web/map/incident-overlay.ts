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

/** A colour of the yellow–orange–red ramp for t in 0…1. */
export function ramp(t: number, alpha = 220): Rgba {
  const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(interpolateYlOrRd(0.12 + 0.88 * Math.min(1, Math.max(0, t))))!;
  return [Number(m[1]), Number(m[2]), Number(m[3]), alpha];
}

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
 * interleaved mode): a heatmap or hexagons from the server's cells, or grids coloured by incidents
 * per 100 households. The browser only draws; the server aggregates.
 */
export class IncidentOverlay {
  private readonly overlay = new MapboxOverlay({ interleaved: false, layers: [] });

  constructor(map: MapLibreMap) {
    map.addControl(this.overlay as unknown as IControl);
  }

  update(mode: Mode, heat: Heat | null, grids: GeoJSON.FeatureCollection | null, hotspots: Hotspot[], scale = 1): { max: number; breaks: number[] | null } {
    const cells = heat?.cells ?? [];
    let layers: Layer[] = [];
    let max = 0;
    let breaks: number[] | null = null;
    if (mode === 'heatmap') {
      max = cells.reduce((m, c) => Math.max(m, c.count), 0);
      layers = [
        new HeatmapLayer<Cell>({
          id: 'heat',
          data: cells,
          getPosition: (c) => [c.lon, c.lat],
          getWeight: (c) => c.count,
          radiusPixels: 28 * scale,
          intensity: 1.2,
          threshold: 0.04,
          aggregation: 'SUM',
          colorRange: [0.1, 0.3, 0.5, 0.7, 0.85, 1].map((t) => ramp(t, 255).slice(0, 3) as [number, number, number]),
        }),
      ];
    } else if (mode === 'hexagon') {
      max = cells.reduce((m, c) => Math.max(m, c.count), 0);
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
    } else if (grids) {
      const rate = new Map(hotspots.map((h) => [h.id, h.households > 0 ? (100 * h.count) / h.households : 0]));
      // Five classes of equal size (quintiles of the grids with any report), and none: a skewed rate
      // (a grid of two households with a few reports) no longer paints the rest one colour.
      breaks = quantileBreaks([...rate.values()]);
      max = breaks.at(-1) ?? 0;
      const classOf = (v: number) => (v <= 0 ? 0 : 1 + breaks!.filter((b) => v > b).length);
      const features = grids.features.filter((f) => rate.has(f.id as number));
      layers = [
        new GeoJsonLayer({
          id: 'grid-rates',
          data: { type: 'FeatureCollection' as const, features },
          filled: true,
          stroked: true,
          getFillColor: (f: { id?: unknown }) => ramp(classShade(classOf(rate.get(f.id as number) ?? 0), breaks!.length), 200),
          getLineColor: [255, 255, 255, 160],
          lineWidthMinPixels: 0.5,
          updateTriggers: { getFillColor: [breaks.join(','), hotspots.length] },
        }),
      ];
    }
    this.overlay.setProps({ layers });
    return { max, breaks };
  }

  destroy(map: MapLibreMap): void {
    map.removeControl(this.overlay as unknown as IControl);
  }
}
