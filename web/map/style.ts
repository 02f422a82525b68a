import * as maplibregl from 'maplibre-gl';
import type { ExpressionSpecification, LayerSpecification, SourceSpecification, StyleSpecification } from 'maplibre-gl';
import { Protocol } from 'pmtiles';
import type { InferResponseType } from 'hono/client';
import type { api } from '../lib/api.ts';
import { basemapHealth } from './basemap-health.svelte.ts';

type Basemaps = InferResponseType<typeof api.config.$get, 200>;

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

let basemaps: Basemaps | null = null;

/** Which basemap the maps draw under the plan's layers (none: a plain ground, no roads or rivers). */
export function basemapKind(): 'pmtiles' | 'tianditu' | 'xyz' | null {
  if (basemaps?.pmtiles) return 'pmtiles';
  if (basemaps?.tianditu) return 'tianditu';
  if (basemaps?.basemapUrl) return 'xyz';
  return null;
}

/** MapLibre's own words (the map's name and its buttons, read aloud by screen readers) in the page's language. */
/** A region's households under its name on the map: 12,587 户 (a bare 12587 beside the heat's legend read as cases). */
export function householdsLabel(n: number): string {
  const zh = (document.documentElement.lang || 'zh-CN').startsWith('zh');
  return zh ? `${n.toLocaleString('zh-CN')} 户` : `${n.toLocaleString('en')} households`;
}

/**
 * What every map of the app is made with: the drawing buffer kept (printing, screenshots and pixel tests read
 * the canvas), and no fading labels for someone whose system asks for less motion (MapLibre already skips its
 * camera flights then). Fewer frames drawn, too: a software-rendered map draws about 15% less on opening.
 */
export function mapOptions(): { canvasContextAttributes: { preserveDrawingBuffer: true }; fadeDuration: number } {
  const still = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
  return { canvasContextAttributes: { preserveDrawingBuffer: true }, fadeDuration: still ? 0 : 300 };
}

export function mapLocale(): Record<string, string> {
  const zh = (document.documentElement.lang || 'zh-CN').startsWith('zh');
  return zh
    ? {
        'Map.Title': '地图',
        'NavigationControl.ZoomIn': '放大',
        'NavigationControl.ZoomOut': '缩小',
        'NavigationControl.ResetBearing': '拖动旋转地图，点击恢复正北',
        'AttributionControl.ToggleAttribution': '显示或隐藏地图来源',
        'Popup.Close': '关闭',
        'Marker.Title': '地图标记',
        'ScaleControl.Meters': '米',
        'ScaleControl.Kilometers': '公里',
        'CooperativeGesturesHandler.MobileHelpText': '用两根手指移动地图',
        'CooperativeGesturesHandler.WindowsHelpText': '按住 Ctrl 键滚动来缩放地图',
        'CooperativeGesturesHandler.MacHelpText': '按住 ⌘ 键滚动来缩放地图',
      }
    : {
        // (MapLibre's own words, given back when a page switches from Chinese: relabelMap)
        'Map.Title': 'Map',
        'NavigationControl.ZoomIn': 'Zoom in',
        'NavigationControl.ZoomOut': 'Zoom out',
        'NavigationControl.ResetBearing': 'Drag to rotate map, click to reset north',
        'AttributionControl.ToggleAttribution': 'Toggle attribution',
        'Popup.Close': 'Close popup',
        'Marker.Title': 'Map marker',
        'ScaleControl.Meters': 'm',
        'ScaleControl.Kilometers': 'km',
        'CooperativeGesturesHandler.MobileHelpText': 'Use two fingers to move the map',
        'CooperativeGesturesHandler.WindowsHelpText': 'Use Ctrl + scroll to zoom the map',
        'CooperativeGesturesHandler.MacHelpText': 'Use ⌘ + scroll to zoom the map',
      };
}

/**
 * A map made in one language, in the page's language after a switch: its own words (the scale's 公里 / km) are MapLibre's
 * `locale`, read each time it draws them but settable only when the map is made, so they are put in its table (`_locale`,
 * which MapLibre has kept since 2.x) and the scale is redrawn.
 */
export function relabelMap(map: maplibregl.Map): void {
  const table = (map as unknown as { _locale?: Record<string, string> })._locale;
  if (!table) return;
  Object.assign(table, mapLocale());
  map.fire('move');
}

/** What the server offers under our layers (from /api/config), once at start: an offline PMTiles archive, Tianditu. */
export function setBasemaps(config: Basemaps): void {
  if (config.pmtiles && !basemaps?.pmtiles) maplibregl.addProtocol('pmtiles', new Protocol().tile);
  basemaps = config;
}

/** A light or dark colour for a vector layer of a basemap whose schema we do not know, by its name. */
function tint(layer: string, dark: boolean, line: boolean): string {
  if (/water|ocean|river|lake/i.test(layer)) return dark ? '#14324d' : '#b5d3e3';
  if (/road|transport|street|highway/i.test(layer)) return line ? (dark ? '#3a4b61' : '#ffffff') : dark ? '#1b2a3c' : '#f4f1ea';
  if (/park|green|landuse|landcover|natural/i.test(layer)) return dark ? '#12261f' : '#dde8d2';
  if (/building/i.test(layer)) return dark ? '#1e2d40' : '#e3ddd3';
  if (/boundar/i.test(layer)) return dark ? '#5b6b82' : '#b8aec7';
  return dark ? '#0e1c2e' : '#f2efe8';
}

/**
 * The offline archive's vector layers drawn plainly: fills under lines, in quiet colours by what
 * their names say (water, roads, green, buildings), no labels — our regions and names stay on top.
 */
function vectorBasemap(layers: string[], dark: boolean): LayerSpecification[] {
  const fills = layers.map((l): LayerSpecification => ({
    id: `basemap-${l}-fill`,
    type: 'fill',
    source: 'pmtiles',
    'source-layer': l,
    filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'fill-color': tint(l, dark, false) },
  }));
  const lines = layers.map((l): LayerSpecification => ({
    id: `basemap-${l}-line`,
    type: 'line',
    source: 'pmtiles',
    'source-layer': l,
    filter: ['==', ['geometry-type'], 'LineString'],
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    paint: {
      'line-color': tint(l, dark, true),
      'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 8, 0.6, 16, /road|transport|street/i.test(l) ? 9 : 2],
    },
  }));
  return [...fills, ...lines];
}

/**
 * Our own basemap: a plain ground; regions and labels come from our data. Underneath when the
 * server offers them: an XYZ raster (GRIDPLAN_BASEMAP_URL), Tianditu's map and labels, an offline
 * PMTiles archive (vector or raster) the server holds. Without any, the map needs no network.
 */
export function baseStyle(basemapUrl: string | null, dark = false): StyleSpecification {
  const sources: Record<string, SourceSpecification> = {};
  const layers: LayerSpecification[] = [{ id: 'background', type: 'background', paint: { 'background-color': dark ? '#0a1626' : '#eef0ec' } }];
  const pm = basemaps?.pmtiles ?? null;
  // (a basemap that failed this visit is left out: see basemap-health)
  if (pm && !basemapHealth.isDown('pmtiles')) {
    const url = `pmtiles://${location.origin}${pm.url}`;
    sources.pmtiles =
      pm.kind === 'vector'
        ? { type: 'vector', url, ...(pm.attribution ? { attribution: pm.attribution } : {}) }
        : { type: 'raster', url, tileSize: 256, ...(pm.attribution ? { attribution: pm.attribution } : {}) };
    layers.push(...(pm.kind === 'vector' ? vectorBasemap(pm.layers, dark) : [{ id: 'basemap-pmtiles', type: 'raster' as const, source: 'pmtiles' }]));
  }
  const tdt = basemaps?.tianditu ?? null;
  if (tdt && !basemapHealth.isDown('tianditu')) {
    // Tianditu serves the same tiles from t0 to t7: the browser asks all eight at once.
    const spread = (url: string) => Array.from({ length: 8 }, (_, i) => url.replace('//t0.', `//t${i}.`));
    sources.tianditu = { type: 'raster', tiles: spread(tdt.vector), tileSize: 256, maxzoom: 18, attribution: '天地图' };
    sources['tianditu-labels'] = { type: 'raster', tiles: spread(tdt.labels), tileSize: 256, maxzoom: 18 };
    layers.push({ id: 'basemap-tianditu', type: 'raster', source: 'tianditu' }, { id: 'basemap-tianditu-labels', type: 'raster', source: 'tianditu-labels' });
  }
  if (basemapUrl && !basemapHealth.isDown('basemap')) {
    sources.basemap = { type: 'raster', tiles: [basemapUrl], tileSize: 256 };
    layers.push({ id: 'basemap', type: 'raster', source: 'basemap' });
  }
  return { version: 8, sources, layers };
}
