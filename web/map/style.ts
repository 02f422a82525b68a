import type { ExpressionSpecification, StyleSpecification } from 'maplibre-gl';

/** Grid type colours (Tableau 10: distinct, colour-blind aware). */
export const GRID_TYPE_COLORS = {
  residential: '#4e79a7',
  commercial: '#f28e2b',
  unit: '#b07aa1',
  rural: '#59a14f',
  scattered: '#9c755f',
} as const;

export const gridTypeColor: ExpressionSpecification = [
  'match',
  ['get', 'gridType'],
  ...Object.entries(GRID_TYPE_COLORS).flat(),
  '#bab0ac',
] as unknown as ExpressionSpecification;

// No `glyphs`: MapLibre (≥ 5.11) draws every label locally with TinySDF, so the map needs no network.
export const TEXT_FONT = ['Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', 'sans-serif'];

/** Our own basemap: a plain ground; regions and labels come from our data. An external raster goes underneath when configured. */
export function baseStyle(basemapUrl: string | null, dark = false): StyleSpecification {
  return {
    version: 8,
    sources: basemapUrl ? { basemap: { type: 'raster', tiles: [basemapUrl], tileSize: 256 } } : {},
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': dark ? '#0a1626' : '#eef0ec' } },
      ...(basemapUrl ? [{ id: 'basemap', type: 'raster' as const, source: 'basemap' }] : []),
    ],
  };
}
