import { Popup, type ExpressionSpecification, type Map as MapLibreMap, type MapLayerMouseEvent, type VectorTileSource } from 'maplibre-gl';
import { CATEGORY_COLORS } from '../state/analysis.svelte.ts';
import { ramp } from './incident-overlay.ts';

/** From this zoom the server's incident tiles hold each case, below it counts per cell (server/db/tiles.ts). */
export const INCIDENT_POINTS_ZOOM = 14;

const SOURCE = 'incident-tiles';
const CELLS = 'incident-cells';
/** The layer of single cases: it answers clicks itself. */
export const POINTS = 'incident-points';
const rgb = (t: number) => `rgb(${ramp(t).slice(0, 3).join(',')})`;

/**
 * The incidents as MapLibre draws them from the server's vector tiles (`/api/tiles/incidents`, with
 * the analyze filters): zoomed out, a circle per cell sized and coloured by its count against the
 * largest cell in view; zoomed in to streets, each case coloured by its category. The map draws them
 * itself, so they stay sharp and pannable at any zoom and only the tiles in view are fetched.
 */
export class IncidentPoints {
  private url: string | null = null;
  private max = 0;
  private readonly popup = new Popup({ closeButton: true, maxWidth: '260px', className: 'incident-popup' });

  constructor(
    private readonly map: MapLibreMap,
    /** The largest cell count in view, whenever it changes (for the legend); -1 while new tiles load. */
    private readonly onMax: (max: number) => void,
    /** What a case's popup says, from its tile properties (id, category, status, severity). */
    private readonly describe: (p: { id: number; category: string; status: string; severity: number }) => string,
    private readonly scale = 1,
  ) {
    map.on('idle', this.measure);
  }

  /** A click on a case: what it is, in a popup by it. */
  private readonly clicked = (e: MapLayerMouseEvent) => {
    const f = e.features?.[0];
    if (!f || f.geometry.type !== 'Point') return;
    const p = f.properties as { category: string; status: string; severity: number };
    const el = document.createElement('div');
    el.textContent = this.describe({ id: Number(f.id), category: p.category, status: p.status, severity: Number(p.severity) });
    this.popup
      .setLngLat(f.geometry.coordinates as [number, number])
      .setDOMContent(el)
      .addTo(this.map);
  };
  private readonly pointer = () => (this.map.getCanvas().style.cursor = 'pointer');
  private readonly leave = () => (this.map.getCanvas().style.cursor = '');

  /** Shows the tiles of `url` (a `{z}/{x}/{y}` template), or hides the layer (null). */
  show(url: string | null): void {
    const m = this.map;
    if (url === null) {
      for (const id of [CELLS, POINTS]) if (m.getLayer(id)) m.setLayoutProperty(id, 'visibility', 'none');
      this.popup.remove();
      this.url = null;
      return;
    }
    const source = m.getSource(SOURCE) as VectorTileSource | undefined;
    if (!source) {
      m.addSource(SOURCE, { type: 'vector', tiles: [url], minzoom: 0, maxzoom: 16 });
      const k = this.scale;
      // Under the names: a busy town's circles must not hide which town it is.
      const before = m.getStyle().layers.find((l) => l.type === 'symbol')?.id;
      m.addLayer(
        {
          id: CELLS,
          type: 'circle',
          source: SOURCE,
          'source-layer': 'incidents',
          filter: ['!', ['has', 'category']],
          paint: { 'circle-opacity': 0.85, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 0.8 * k, ...this.cellPaint(1) },
        },
        before,
      );
      const colors = Object.entries(CATEGORY_COLORS).flat();
      m.addLayer(
        {
          id: POINTS,
          type: 'circle',
          source: SOURCE,
          'source-layer': 'incidents',
          filter: ['has', 'category'],
          paint: {
            'circle-radius': ['interpolate', ['linear'], ['zoom'], INCIDENT_POINTS_ZOOM, 4 * k, 18, 7 * k],
            'circle-color': ['match', ['get', 'category'], ...colors, '#868e96'] as unknown as ExpressionSpecification,
            'circle-stroke-color': '#ffffff',
            'circle-stroke-width': 1.2 * k,
          },
        },
        before,
      );
      m.on('click', POINTS, this.clicked);
      m.on('mouseenter', POINTS, this.pointer);
      m.on('mouseleave', POINTS, this.leave);
    } else if (this.url !== url) source.setTiles([url]);
    for (const id of [CELLS, POINTS]) m.setLayoutProperty(id, 'visibility', 'visible');
    // new tiles: no scale until they are in and measured (the legend says loading, not 0 – 0)
    if (this.url !== url) {
      this.max = -1;
      this.onMax(-1);
    }
    this.url = url;
  }

  /** Radius and colour of a cell by the square root of its count against the largest in view. */
  private cellPaint(max: number): Record<'circle-radius' | 'circle-color', ExpressionSpecification> {
    const top = Math.sqrt(Math.max(1, max));
    const k = this.scale;
    return {
      'circle-radius': ['interpolate', ['linear'], ['sqrt', ['get', 'count']], 1, 2.5 * k, Math.max(1.01, top), 14 * k],
      'circle-color': ['interpolate', ['linear'], ['sqrt', ['get', 'count']], 1, rgb(0.1), Math.max(1.01, top / 2), rgb(0.55), Math.max(1.02, top), rgb(1)],
    };
  }

  /** After the map settles: the largest count among the cells loaded in view sets the scale. */
  private readonly measure = () => {
    if (this.url === null || !this.map.getSource(SOURCE)) return;
    let max = 0;
    const bounds = this.map.getBounds();
    for (const f of this.map.querySourceFeatures(SOURCE, { sourceLayer: 'incidents', filter: ['!', ['has', 'category']] })) {
      const g = f.geometry;
      if (g.type === 'Point' && bounds.contains(g.coordinates as [number, number])) max = Math.max(max, Number(f.properties.count) || 0);
    }
    if (max === this.max) return;
    this.max = max;
    const paint = this.cellPaint(max);
    this.map.setPaintProperty(CELLS, 'circle-radius', paint['circle-radius']);
    this.map.setPaintProperty(CELLS, 'circle-color', paint['circle-color']);
    this.onMax(max);
  };

  destroy(): void {
    this.map.off('idle', this.measure);
    this.map.off('click', POINTS, this.clicked);
    this.map.off('mouseenter', POINTS, this.pointer);
    this.map.off('mouseleave', POINTS, this.leave);
    this.popup.remove();
  }
}
