import type { Map as MapLibreMap, MapSourceDataEvent } from 'maplibre-gl';

/**
 * Basemaps from elsewhere (Tianditu, an XYZ server, the offline archive) fail where a county's
 * network does not reach them — a 政务外网 without the internet, a key Tianditu refuses. Without a
 * watch, each map goes on asking for every tile it shows (a failing request per tile per move) and
 * nobody is told why the ground under the grids is blank. Here: a source that has failed several
 * tiles and drawn none is taken down on every map of the page (its layers hidden, so nothing more is
 * asked), left out of maps made later, and named once for the notice; a source that drew a tile is
 * trusted (a tile missing at sea is no outage).
 */
export const BASEMAP_SOURCES = ['tianditu', 'tianditu-labels', 'basemap', 'pmtiles'] as const;
type BasemapSource = (typeof BASEMAP_SOURCES)[number];
const isBasemap = (id: unknown): id is BasemapSource => typeof id === 'string' && (BASEMAP_SOURCES as readonly string[]).includes(id);

/** Failed tiles, with none drawn, before a source is given up. */
const FAILURES = 4;

class BasemapHealth {
  /** The sources given up this visit (the notice names them). */
  down = $state<BasemapSource[]>([]);
  /** The reader closed the notice. */
  dismissed = $state(false);
  private failed = new Map<BasemapSource, number>();
  private drawn = new Set<BasemapSource>();
  private maps = new Set<MapLibreMap>();

  /** Watches a map's basemap tiles; call once after making it. */
  watch(map: MapLibreMap): void {
    this.maps.add(map);
    map.on('remove', () => this.maps.delete(map));
    map.on('sourcedata', (e: MapSourceDataEvent) => {
      if (isBasemap(e.sourceId) && e.tile) this.drawn.add(e.sourceId);
    });
    map.on('error', (e) => {
      // (a source's tile error carries the source's id; a tile given up because the map moved on is no failure)
      const source = (e as unknown as { sourceId?: unknown }).sourceId;
      if (!isBasemap(source) || (e.error as { name?: string } | undefined)?.name === 'AbortError') return;
      if (this.drawn.has(source) || this.down.includes(source)) return;
      const n = (this.failed.get(source) ?? 0) + 1;
      this.failed.set(source, n);
      if (n >= FAILURES) this.giveUp(source);
    });
    for (const s of this.down) hide(map, s);
  }

  /** Whether a map made now should leave the source out. */
  isDown(source: BasemapSource): boolean {
    return this.down.includes(source);
  }

  private giveUp(source: BasemapSource): void {
    this.down = [...this.down, source];
    for (const m of this.maps) hide(m, source);
  }
}

function hide(map: MapLibreMap, source: string): void {
  const style = map.getStyle();
  for (const layer of style?.layers ?? []) {
    if ('source' in layer && layer.source === source) map.setLayoutProperty(layer.id, 'visibility', 'none');
  }
}

export const basemapHealth = new BasemapHealth();
