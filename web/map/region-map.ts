import * as maplibregl from 'maplibre-gl';
import { basemapHealth } from './basemap-health.svelte.ts';
import type { ExpressionSpecification, GeoJSONSource, LngLatBoundsLike, VectorTileSource } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { tileUrl, type DistrictLayers, type RegionCollection, type RegionFeature } from '../state/explorer.svelte.ts';
import { ISSUE_COLORS } from '../state/coverage.svelte.ts';
import { baseStyle, householdsLabel, mapLocale, gridTypeColor, TEXT_FONT, mapOptions } from './style.ts';
import turfBbox from '@turf/bbox';
import { pointOnFeature } from '@turf/turf';
import { slowFlight } from './flight.ts';

maplibregl.setWorkerUrl(workerUrl);

type Level = 'city' | 'district' | 'township' | 'village' | 'grid';
const EMPTY = { type: 'FeatureCollection' as const, features: [] };
const LEVEL_BELOW: Record<Level, Level> = { city: 'district', district: 'township', township: 'village', village: 'grid', grid: 'grid' };
// Invisible fills make county, township and village polygons clickable without drawing them: the layer that answers a
// click on a region of each level (a city's map is clicked on its counties; a city itself is never below anything).
const HIT_LAYER: Record<Level, string> = {
  city: 'district-hit',
  district: 'district-hit',
  township: 'township-hit',
  village: 'village-hit',
  grid: 'grid-fill',
};

/**
 * The MapLibre map of a district: grids filled by type, village and township borders, the
 * selected region outlined, and labels of what the panel lists. Knows nothing of Svelte.
 */
/** The plan's tile sources and the layer each draws. */
/** From this zoom the plan's grids are drawn (a district fills a 1080p screen at about 9; a city at about 7.7). */
export const GRID_MIN_ZOOM = 8;

const PLAN_SOURCES = [
  ['grids', 'grid'],
  ['villages', 'village'],
  ['townships', 'township'],
  ['districts', 'district'],
] as const;

/** The selected region's outline (the legend shows it). */
export const SELECTION_COLOR = '#fab005';

export class RegionMap {
  /** Layers whose features answer clicks themselves: a click on one selects no region. */
  readonly ownClicks = new Set<string>();
  /** Removed with its view: answers that arrive later have no map to go to. */
  private gone = false;
  readonly map: maplibregl.Map;
  private ready: Promise<void>;
  private current: RegionFeature | null = null;
  private dark = false;
  private k = 1;
  /** The tiles' query (the plan in view and its version); null until the first layers arrive. */
  private tiles: string | null = null;
  private proposalShown = false;
  private gridStyle: { color?: ExpressionSpecification; opacity: number; warnings: boolean } = { opacity: 0, warnings: true };
  /** Grids coloured by a class each (analysis' 网格分级) on the grid tiles, by their ids; null: by the grid style. */
  private gridClasses: { classes: ReadonlyMap<number, number>; colors: readonly string[] } | null = null;
  /** Labels as HTML above the map (a wall: deck.gl's heatmap is drawn on a canvas over MapLibre's own labels). */
  private readonly htmlLabels: boolean;
  private labelMarkers: { marker: maplibregl.Marker; rank: number }[] = [];
  /** Whether the map has been fitted to a region yet: HTML labels wait for it (before, they lie in a heap at the start's zoom). */
  private fitted = false;
  /**
   * Whether a flight here is a slide show: the map drew its last flight at fewer frames a second than `SLOW_FLIGHT`
   * allows (software WebGL, a weak GPU at a wall's 4K: 3–4 frames a second here). It jumps from then on: a flight of
   * three frames showed nothing anyone asked for and drew them at the cost of the landing's.
   */
  private flightsJump = false;
  private fitPadding: () => number | maplibregl.PaddingOptions = () => 40;

  constructor(
    container: HTMLElement,
    options: {
      basemapUrl: string | null;
      dark?: boolean;
      interactive?: boolean;
      /** Multiplies label sizes and line widths: wall displays read from across the room. */
      scale?: number;
      onSelect?: (id: number) => void;
      /** The children's labels as HTML, above anything drawn over the map (the wall's heatmap). */
      htmlLabels?: boolean;
      /** Room kept around a region the map is fitted to (px), asked at each fit: what lies over the map's edges (the wall's legend). */
      fitPadding?: () => maplibregl.PaddingOptions;
    },
  ) {
    this.htmlLabels = options.htmlLabels ?? false;
    if (options.fitPadding) this.fitPadding = options.fitPadding;
    this.map = new maplibregl.Map({
      container,
      style: baseStyle(options.basemapUrl, options.dark),
      locale: mapLocale(),
      center: [103.82, 25.6],
      zoom: 8,
      attributionControl: false,
      interactive: options.interactive ?? true,
      ...mapOptions(),
    });
    basemapHealth.watch(this.map);
    if (options.interactive ?? true) this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    // (a wall's bar is as long, to the eye, as a desk's: its width in CSS pixels grows with the scale)
    this.map.addControl(new maplibregl.ScaleControl({ unit: 'metric', maxWidth: 100 * (options.scale ?? 1) }), 'bottom-left');
    this.ready = new Promise((resolve) =>
      this.map.once('load', () => {
        this.addLayers(options.dark ?? false, options.scale ?? 1);
        resolve();
      }),
    );
    if (options.onSelect) {
      const onSelect = options.onSelect;
      this.map.on('click', (e) => {
        // a click on something that answers clicks itself (a case on the analyze map) selects no region
        const own = [...this.ownClicks].filter((l) => this.map.getLayer(l));
        if (own.length > 0 && this.map.queryRenderedFeatures(e.point, { layers: own }).length > 0) return;
        const id = this.regionAt(e.point);
        if (id !== null) onSelect(id);
      });
      this.map.on('mousemove', (e) => {
        this.map.getCanvas().style.cursor = this.regionAt(e.point) === null ? '' : 'pointer';
      });
    }
  }

  private addLayers(dark: boolean, k: number) {
    const m = this.map;
    this.dark = dark;
    this.k = k;
    for (const id of ['selected', 'labels', 'picked', 'issues', 'focused', 'proposal', 'proposal-labels', 'barriers', 'compare'])
      m.addSource(id, { type: 'geojson', data: EMPTY });
    m.addSource('households', { type: 'geojson', data: EMPTY, cluster: true, clusterRadius: 36, clusterMaxZoom: 15 });
    const ink = dark ? '#d7e3f4' : '#2b3340';
    m.addLayer({ id: 'picked-fill', type: 'fill', source: 'picked', paint: { 'fill-color': '#f59f00', 'fill-opacity': 0.45 } });
    m.addLayer({
      id: 'household-clusters',
      type: 'circle',
      source: 'households',
      filter: ['has', 'point_count'],
      paint: { 'circle-color': '#343a40', 'circle-opacity': 0.55, 'circle-radius': ['step', ['get', 'point_count'], 8, 20, 11, 100, 15, 500, 20] },
    });
    m.addLayer({
      id: 'household-count',
      type: 'symbol',
      source: 'households',
      filter: ['has', 'point_count'],
      layout: { 'text-field': ['get', 'point_count_abbreviated'], 'text-font': TEXT_FONT, 'text-size': 11 },
      paint: { 'text-color': '#ffffff' },
    });
    m.addLayer({
      id: 'household-points',
      type: 'circle',
      source: 'households',
      filter: ['!', ['has', 'point_count']],
      paint: { 'circle-color': '#343a40', 'circle-radius': 3, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1 },
    });
    // An auto-split proposal over the current grids: in range white (the grid types wash out), under
    // orange, over red; dark outlines. (Not green: that is 农村型's colour.)
    const proposalColor: ExpressionSpecification = ['match', ['get', 'status'], 'under', '#e8590c', 'over', '#c92a2a', '#ffffff'];
    m.addLayer({
      id: 'proposal-fill',
      type: 'fill',
      source: 'proposal',
      paint: { 'fill-color': proposalColor, 'fill-opacity': ['case', ['==', ['get', 'status'], 'within'], 0.55, 0.5] },
    });
    m.addLayer({
      id: 'proposal-line',
      type: 'line',
      source: 'proposal',
      paint: { 'line-color': '#1b2a3a', 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.4 * k, 14, 2 * k] },
    });
    m.addLayer({
      id: 'proposal-count',
      type: 'symbol',
      // (one point a grid: placed on the polygons themselves, a grid cut by tile edges was labelled once a piece, 18 twice)
      source: 'proposal-labels',
      // (from a village's own view on, 11.5 here: at 12 a village's proposal showed none; crowded ones give way to each other)
      minzoom: 10,
      layout: { 'text-field': ['to-string', ['get', 'households']], 'text-font': TEXT_FONT, 'text-size': 12 * k, 'text-padding': 1 },
      paint: { 'text-color': '#1b2a3a', 'text-halo-color': '#ffffff', 'text-halo-width': 1.4 * k },
    });
    m.addLayer({
      id: 'barrier-line',
      type: 'line',
      source: 'barriers',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      // drawn for this split: blue; imported lines never crossed: dark (rivers blue); lines followed where they can be: thin grey
      paint: {
        'line-color': ['match', ['get', 'class'], 'river', '#1c7ed6', 'main_road', '#5c3d2e', 'railway', '#212529', 'drawn', '#1f5fbf', '#868e96'],
        'line-width': ['match', ['get', 'class'], ['drawn', 'main_road', 'river', 'railway'], 4 * k, 1.8 * k],
        'line-opacity': 0.85,
      },
    });
    m.addLayer({ id: 'selected-fill', type: 'fill', source: 'selected', paint: { 'fill-color': '#1f6feb', 'fill-opacity': 0.06 } });
    // the selection: yellow over a dark casing (the orange-reds are the range warnings')
    m.addLayer({ id: 'selected-casing', type: 'line', source: 'selected', paint: { 'line-color': '#1b2a3a', 'line-width': 5.5 * k } });
    m.addLayer({ id: 'selected-line', type: 'line', source: 'selected', paint: { 'line-color': SELECTION_COLOR, 'line-width': 3 * k } });
    // Coverage problems: areas filled, points as rings, in the colour of their kind; the focused one outlined.
    const [firstKind, firstColor] = Object.entries(ISSUE_COLORS)[0]!;
    const issueColor: ExpressionSpecification = ['match', ['get', 'kind'], firstKind, firstColor, ...Object.entries(ISSUE_COLORS).slice(1).flat(), '#e03131'];
    m.addLayer({
      id: 'issue-fill',
      type: 'fill',
      source: 'issues',
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': issueColor, 'fill-opacity': 0.55 },
    });
    m.addLayer({
      id: 'issue-line',
      type: 'line',
      source: 'issues',
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'line-color': issueColor, 'line-width': 2 * k },
    });
    m.addLayer({
      id: 'issue-point',
      type: 'circle',
      source: 'issues',
      filter: ['==', ['geometry-type'], 'Point'],
      // Small at district zoom (thousands of them), full size when zoomed into a village.
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 1.5 * k, 12, 4 * k, 15, 7 * k],
        'circle-color': '#ffffff',
        'circle-stroke-color': issueColor,
        'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 8, 1 * k, 12, 2 * k, 15, 3 * k],
      },
    });
    // A comparison with another day's plan: grids added since (teal), gone since (purple, dashed), reshaped (blue).
    const change = ['get', 'change'] as ExpressionSpecification;
    m.addLayer({
      id: 'compare-fill',
      type: 'fill',
      source: 'compare',
      filter: ['==', change, 'added'],
      paint: { 'fill-color': '#0c8599', 'fill-opacity': 0.35 },
    });
    m.addLayer({
      id: 'compare-line',
      type: 'line',
      source: 'compare',
      filter: ['!=', change, 'removed'],
      paint: { 'line-color': ['match', change, 'added', '#0b7285', '#1864ab'], 'line-width': 2.5 * k },
    });
    m.addLayer({
      id: 'compare-removed',
      type: 'line',
      source: 'compare',
      filter: ['==', change, 'removed'],
      paint: { 'line-color': '#862e9c', 'line-width': 2.5 * k, 'line-dasharray': [2, 1.5] },
    });
    m.addLayer({ id: 'focused-line', type: 'line', source: 'focused', paint: { 'line-color': '#212529', 'line-width': 4 * k, 'line-dasharray': [1, 1] } });
    m.addLayer({
      id: 'focused-point',
      type: 'circle',
      source: 'focused',
      filter: ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]],
      paint: { 'circle-radius': 14 * k, 'circle-opacity': 0, 'circle-stroke-color': '#212529', 'circle-stroke-width': 3 * k },
    });
    m.addLayer({
      id: 'labels',
      type: 'symbol',
      source: 'labels',
      layout: {
        // (the households, with their unit and thousands: 12,587 户)
        'text-field': ['format', ['get', 'name'], {}, '\n', {}, ['get', 'householdsText'], { 'font-scale': 0.8 }],
        'text-font': TEXT_FONT,
        'text-size': ['match', ['get', 'level'], 'township', 15 * k, 'village', 13 * k, 12 * k],
        // a name stays on one line (石田村第84网格, not 石田村第 / 84网格)
        'text-max-width': 30,
        'text-padding': 2,
      },
      paint: { 'text-color': ink, 'text-halo-color': dark ? '#0b1522' : '#ffffff', 'text-halo-width': 1.6 * k },
    });
    if (this.htmlLabels) {
      m.setLayoutProperty('labels', 'visibility', 'none');
      // (labels that would overlap once the view settles: the fewer households give way, as the symbol layer's would;
      // while the map flies to a region they are hidden — the symbol layer's fade — not heaped together at every zoom it passes)
      // (a person's own pan or zoom keeps them: only the map's own flights hide them)
      m.on('movestart', (e: { originalEvent?: unknown }) => {
        if (!e.originalEvent) this.hideLabels();
      });
      m.on('moveend', () => this.declutter());
    }
  }

  /** The children's labels as HTML markers (name, households below), in the symbol layer's sizes and colours. */
  private placeLabels(features: { geometry: { coordinates: [number, number] }; properties: { name: string; level: string; households?: number } }[]) {
    for (const { marker } of this.labelMarkers) marker.remove();
    const [dark, k] = [this.dark, this.k];
    const halo = dark ? '#0b1522' : '#ffffff';
    this.labelMarkers = features.map((f) => {
      const el = document.createElement('div');
      const size = (f.properties.level === 'township' ? 15 : f.properties.level === 'village' ? 13 : 12) * k;
      Object.assign(el.style, {
        font: `${size}px / 1.15 sans-serif`,
        color: dark ? '#d7e3f4' : '#2b3340',
        textAlign: 'center',
        whiteSpace: 'nowrap',
        pointerEvents: 'none',
        // (above deck.gl's canvas, which MapLibre holds in a control corner at z-index 2)
        zIndex: '3',
        // (a halo thick enough to read over the brightest heat and the darkest red: a crisp ring of eight offsets, then a glow)
        textShadow: [
          ...[0, 45, 90, 135, 180, 225, 270, 315].map((deg) => {
            const [dx, dy] = [Math.cos((deg * Math.PI) / 180) * 1.3 * k, Math.sin((deg * Math.PI) / 180) * 1.3 * k];
            return `${dx.toFixed(2)}px ${dy.toFixed(2)}px 0 ${halo}`;
          }),
          ...[0, 1].map(() => `0 0 ${2.4 * k}px ${halo}`),
        ].join(', '),
        // shown by declutter() once the view has settled
        visibility: 'hidden',
      });
      el.dataset.testid = 'map-label';
      const name = document.createElement('div');
      name.textContent = f.properties.name;
      el.append(name);
      if (f.properties.households !== undefined) {
        const n = document.createElement('div');
        n.textContent = householdsLabel(f.properties.households);
        n.style.fontSize = '0.8em';
        el.append(n);
      }
      const marker = new maplibregl.Marker({ element: el, anchor: 'center' }).setLngLat(f.geometry.coordinates).addTo(this.map);
      return { marker, rank: f.properties.households ?? 0 };
    });
    requestAnimationFrame(() => {
      if (!this.map.isMoving()) this.declutter();
    });
  }

  private hideLabels() {
    for (const { marker } of this.labelMarkers) marker.getElement().style.visibility = 'hidden';
  }

  /** Hides the labels that overlap one already shown, the most households first. */
  private declutter() {
    if (!this.fitted) return;
    const shown: DOMRect[] = [];
    for (const { marker } of [...this.labelMarkers].sort((a, b) => b.rank - a.rank)) {
      const el = marker.getElement();
      el.style.visibility = 'visible';
      const r = el.getBoundingClientRect();
      const hit = shown.some((s) => r.left < s.right + 2 && r.right > s.left - 2 && r.top < s.bottom + 2 && r.bottom > s.top - 2);
      if (hit) el.style.visibility = 'hidden';
      else shown.push(r);
    }
  }

  /**
   * The plan's own layers, from vector tiles the server cuts: grids filled by type, village and
   * township borders, range warnings. Added under everything else once the first layers arrive.
   */
  private addPlanLayers(query: string) {
    const m = this.map;
    const [dark, k] = [this.dark, this.k];
    const ink = dark ? '#d7e3f4' : '#2b3340';
    const before = 'picked-fill';
    // Tiles stop at zoom 16; closer in, MapLibre draws them larger (a grid is whole at 16).
    for (const [id, layer] of PLAN_SOURCES) m.addSource(id, { type: 'vector', tiles: [tileUrl(layer, query)], minzoom: 0, maxzoom: 16 });
    // Below GRID_MIN_ZOOM a grid is a pixel or two: a city's 21,600 grids would come as tiles of 400 KB to draw a
    // blur, so the grids' layers (and with them their tiles) wait until the map is close enough to tell grids apart.
    const grid = { source: 'grids', 'source-layer': 'grid', minzoom: GRID_MIN_ZOOM };
    m.addLayer({ id: 'grid-fill', type: 'fill', ...grid, paint: { 'fill-color': gridTypeColor, 'fill-opacity': dark ? 0.45 : 0.32 } }, before);
    m.addLayer(
      {
        id: 'grid-line',
        type: 'line',
        ...grid,
        paint: { 'line-color': dark ? '#0b1522' : '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.2 * k, 13, 1.2 * k] },
      },
      before,
    );
    m.addLayer({ id: 'district-hit', type: 'fill', source: 'districts', 'source-layer': 'district', paint: { 'fill-opacity': 0 } }, before);
    m.addLayer({ id: 'township-hit', type: 'fill', source: 'townships', 'source-layer': 'township', paint: { 'fill-opacity': 0 } }, before);
    m.addLayer({ id: 'village-hit', type: 'fill', source: 'villages', 'source-layer': 'village', paint: { 'fill-opacity': 0 } }, before);
    m.addLayer(
      {
        id: 'village-line',
        type: 'line',
        source: 'villages',
        'source-layer': 'village',
        paint: { 'line-color': ink, 'line-opacity': 0.55, 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.5 * k, 13, 2 * k] },
      },
      before,
    );
    m.addLayer(
      {
        id: 'township-line',
        type: 'line',
        source: 'townships',
        'source-layer': 'township',
        paint: { 'line-color': ink, 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 1.6 * k, 13, 4 * k] },
      },
      before,
    );
    // Counties of a city: the boldest line.
    m.addLayer(
      {
        id: 'district-line',
        type: 'line',
        source: 'districts',
        'source-layer': 'district',
        paint: { 'line-color': ink, 'line-width': ['interpolate', ['linear'], ['zoom'], 7, 2 * k, 13, 6 * k] },
      },
      before,
    );
    // Grids whose household count is outside their type's range (each by its own district's rule, as the
    // server judged it in the tile): dashed, under the range orange, over it red.
    m.addLayer(
      {
        id: 'grid-out-of-range',
        type: 'line',
        ...grid,
        filter: ['!=', ['get', 'status'], 'within'],
        paint: { 'line-color': ['match', ['get', 'status'], 'under', '#e8590c', '#c92a2a'], 'line-width': 2.5 * k, 'line-dasharray': [2, 1.5] },
      },
      before,
    );
    this.applyProposalShown();
    this.applyGridStyle();
  }

  /**
   * How grids show: their colour (default by type), fill opacity (0: by the map's theme) and whether range warnings do. Analysis puts
   * them behind the incidents; the wall colours them by whether they pass.
   */
  setGridStyle(style: { color?: ExpressionSpecification; opacity: number; warnings: boolean }): void {
    this.gridStyle = style;
    if (this.map.getLayer('grid-fill')) this.applyGridStyle();
  }

  private applyGridStyle(): void {
    const m = this.map;
    const classed = this.gridClasses;
    const color = this.gridStyle.color ?? gridTypeColor;
    const opacity = this.gridStyle.opacity > 0 ? this.gridStyle.opacity : this.dark ? 0.45 : 0.32;
    if (classed) {
      // A grid with a class takes its colour, nearly opaque; the others keep the grid style. The classes are the grids' ids
      // in one `match` (a lookup, not a chain): MapLibre's workers colour the tiles with it, where feature state would take
      // 21,600 calls at a city and have the page's own thread re-colour each tile's grids as it arrives.
      const ids = classed.colors.map(() => [] as number[]);
      for (const [id, k] of classed.classes) ids[k]?.push(id);
      const used = ids.flatMap((list, k) => (list.length > 0 ? [k] : []));
      const fill: unknown[] = ['match', ['id'], ...used.flatMap((k) => [ids[k], classed.colors[k]]), color];
      const shown: unknown[] = ['match', ['id'], ...used.flatMap((k) => [ids[k], 0.85]), opacity];
      m.setPaintProperty('grid-fill', 'fill-color', (used.length > 0 ? fill : color) as ExpressionSpecification);
      m.setPaintProperty('grid-fill', 'fill-opacity', (used.length > 0 ? shown : opacity) as ExpressionSpecification | number);
    } else {
      m.setPaintProperty('grid-fill', 'fill-color', color);
      m.setPaintProperty('grid-fill', 'fill-opacity', opacity);
    }
    // classed, the grids show from the city's zoom: their tiles there (a few hundred KB for a city) are far less than their outlines
    m.setLayerZoomRange('grid-fill', classed ? 0 : GRID_MIN_ZOOM, 24);
    if (!this.gridStyle.warnings) m.setLayoutProperty('grid-out-of-range', 'visibility', 'none');
  }

  /**
   * Colours grids by a class each (`classes`: grid id → index into `colors`) on the grid tiles the map already draws, or
   * (null) as the grid style has them again. Grids without a class keep the grid style.
   */
  setGridClasses(classes: ReadonlyMap<number, number> | null, colors: readonly string[] = []): void {
    this.gridClasses = classes ? { classes, colors } : null;
    if (this.map.getLayer('grid-fill')) this.applyGridStyle(); // else with the plan's layers
  }

  /** The region one level below the selection under a screen point (the selection's sibling when it is a grid). */
  private regionAt(point: maplibregl.PointLike): number | null {
    const level = this.current ? LEVEL_BELOW[this.current.properties.level] : 'township';
    if (!this.map.getLayer(HIT_LAYER[level])) return null;
    const id = this.map.queryRenderedFeatures(point, { layers: [HIT_LAYER[level]] })[0]?.id;
    return typeof id === 'number' ? id : null;
  }

  async setLayers(layers: DistrictLayers): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    if (this.tiles === layers.tiles) return;
    const first = this.tiles === null;
    this.tiles = layers.tiles;
    if (first) return this.addPlanLayers(layers.tiles);
    for (const [id, layer] of PLAN_SOURCES) (this.map.getSource(id) as VectorTileSource | undefined)?.setTiles([tileUrl(layer, layers.tiles)]);
  }

  /** Outlines the region and labels its children. */
  async show(region: RegionFeature, children: RegionCollection): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    this.current = region;
    (this.map.getSource('selected') as GeoJSONSource | undefined)?.setData(region);
    const labels = {
      type: 'FeatureCollection' as const,
      features: children.features
        .filter((f) => f.properties.label)
        .map((f) => ({
          type: 'Feature' as const,
          geometry: { type: 'Point' as const, coordinates: f.properties.label! },
          properties: { ...f.properties, householdsText: householdsLabel(f.properties.households ?? 0) },
        })),
    };
    (this.map.getSource('labels') as GeoJSONSource | undefined)?.setData(labels);
    if (this.htmlLabels) this.placeLabels(labels.features as never);
  }

  private fittedOnce: () => void = () => {};
  private readonly firstFit = new Promise<void>((resolve) => (this.fittedOnce = resolve));

  /** Once the map has been fitted to a region (its zoom is the region's, not the starting view's). */
  whenFitted(): Promise<void> {
    return this.firstFit;
  }

  /** Times the flight that starts now by its frames; a slow one is the map's last (it jumps from then on). */
  private timeFlight(): void {
    const stamps: number[] = [];
    const frame = () => stamps.push(performance.now());
    this.map.on('render', frame);
    this.map.once('moveend', () => {
      this.map.off('render', frame);
      if (slowFlight(stamps)) this.flightsJump = true;
      this.map.getContainer().dataset.flights = this.flightsJump ? 'jump' : 'fly';
    });
  }

  /** Flies to the region. */
  async fit(region: RegionFeature, animate = true): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    const [w, s, e, n] = region.properties.bbox;
    // The first fit jumps: a flight from the map's starting view shows nothing anyone asked for, and the tiles
    // of where it lands are asked only once it has landed (600 ms and a dozen frames later).
    const flight = animate && this.fitted && !this.flightsJump;
    this.fitted = true;
    if (flight) this.timeFlight();
    this.map.fitBounds(
      [
        [w, s],
        [e, n],
      ] as LngLatBoundsLike,
      { padding: this.fitPadding(), duration: flight ? 600 : 0, maxZoom: 16 },
    );
    this.fittedOnce(); // (the first fit is a jump: the camera is there now)
    // (a view already there does not move: its labels are shown now)
    if (this.htmlLabels && !this.map.isMoving()) requestAnimationFrame(() => this.declutter());
  }

  async setHouseholds(fc: GeoJSON.FeatureCollection | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('households') as GeoJSONSource | undefined)?.setData(fc ?? EMPTY);
  }

  /** Highlights grids picked for a merge. */
  async setPicked(features: GeoJSON.Feature[]): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('picked') as GeoJSONSource | undefined)?.setData({ type: 'FeatureCollection', features });
  }

  /** Grids that differ from another day's plan, each with `change`: added, removed or reshaped. */
  async setCompare(fc: GeoJSON.FeatureCollection | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('compare') as GeoJSONSource | undefined)?.setData(fc ?? EMPTY);
  }

  async setIssues(issues: GeoJSON.FeatureCollection | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('issues') as GeoJSONSource | undefined)?.setData(issues ?? EMPTY);
  }

  /** Outlines one problem and zooms to it. */
  async focus(issue: GeoJSON.Feature | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('focused') as GeoJSONSource | undefined)?.setData(issue ? { type: 'FeatureCollection', features: [issue] } : EMPTY);
    if (!issue?.geometry) return;
    const [w, s, e, n] = turfBbox(issue.geometry);
    const pad = 0.002;
    this.map.fitBounds(
      [
        [w - pad, s - pad],
        [e + pad, n + pad],
      ],
      { padding: 60, duration: 500, maxZoom: 17 },
    );
  }

  /** Shows (or clears) an auto-split proposal. */
  async setProposal(fc: GeoJSON.FeatureCollection | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('proposal') as GeoJSONSource | undefined)?.setData(fc ?? EMPTY);
    const points = fc
      ? {
          type: 'FeatureCollection' as const,
          features: fc.features
            .filter((f) => f.geometry)
            .map((f) => ({ ...pointOnFeature(f as GeoJSON.Feature<GeoJSON.Polygon | GeoJSON.MultiPolygon>), properties: f.properties })),
        }
      : EMPTY;
    (this.map.getSource('proposal-labels') as GeoJSONSource | undefined)?.setData(points);
    this.proposalShown = fc !== null;
    this.applyProposalShown();
    // and so do their labels: the proposal's own counts take their place
    this.map.setFilter('labels', fc ? ['!=', ['get', 'level'], 'grid'] : null);
  }

  /** While a proposal is shown, the current grids step back: no outlines or range warnings of their own. */
  private applyProposalShown(): void {
    const visibility = this.proposalShown ? 'none' : 'visible';
    for (const id of ['grid-line', 'grid-out-of-range']) {
      if (this.map.getLayer(id)) this.map.setLayoutProperty(id, 'visibility', id === 'grid-out-of-range' && !this.gridStyle.warnings ? 'none' : visibility);
    }
  }

  async setBarriers(fc: GeoJSON.FeatureCollection | null): Promise<void> {
    await this.ready;
    if (this.gone) return; // the view closed meanwhile (signed out, another page)
    (this.map.getSource('barriers') as GeoJSONSource | undefined)?.setData(fc ?? EMPTY);
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  resize() {
    this.map.resize();
  }

  destroy() {
    this.gone = true;
    this.map.remove();
  }
}
