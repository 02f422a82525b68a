import type { Map as MapLibreMap } from 'maplibre-gl';
import { TerraDraw, TerraDrawLineStringMode, TerraDrawPolygonMode, TerraDrawSelectMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { snapToLines, type LngLat } from './snap.ts';

export type DrawTool = 'idle' | 'draw' | 'split' | 'edit';
type Ring = LngLat[];

export interface GridEditorHooks {
  /** Borders to snap to: the village outline and its grids near the view. */
  snapLines(): Ring[];
  onPolygon(rings: Ring[]): void;
  onLine(line: LngLat[]): void;
  onReshape(rings: Ring[]): void;
  /** The polygon being drawn or reshaped, on every change (null when none). */
  onSketch(rings: Ring[] | null): void;
}

/** terra-draw wired to MapLibre for GridPlan's tools; the operations themselves live elsewhere. */
export class GridEditor {
  private readonly draw: TerraDraw;
  private tool: DrawTool = 'idle';

  constructor(
    map: MapLibreMap,
    private readonly hooks: GridEditorHooks,
  ) {
    const snapping = {
      toCustom: (event: { containerX: number; containerY: number }) =>
        snapToLines({ x: event.containerX, y: event.containerY }, hooks.snapLines(), { project: (p) => map.project(p) }, 12),
    };
    this.draw = new TerraDraw({
      adapter: new TerraDrawMapLibreGLAdapter({ map }),
      modes: [
        new TerraDrawPolygonMode({
          snapping,
          pointerDistance: 16,
          styles: { fillColor: '#d9480f', fillOpacity: 0.2, outlineColor: '#d9480f', outlineWidth: 2 },
        }),
        new TerraDrawLineStringMode({ snapping, pointerDistance: 16, styles: { lineStringColor: '#1f5fbf', lineStringWidth: 3 } }),
        new TerraDrawSelectMode({
          flags: { polygon: { feature: { draggable: false, coordinates: { draggable: true, midpoints: true, deletable: true } } } },
          styles: { selectedPolygonColor: '#d9480f', selectedPolygonFillOpacity: 0.15, selectedPolygonOutlineColor: '#d9480f' },
        }),
      ],
    });
    this.draw.start();
    this.draw.on('change', (ids, type) => {
      if (type === 'delete') return;
      // The change lists helper points (closing and selection points) beside the polygon itself.
      for (const id of ids) {
        const f = this.draw.getSnapshotFeature(id);
        if (f?.geometry.type === 'Polygon') return hooks.onSketch(f.geometry.coordinates as Ring[]);
      }
    });
    this.draw.on('finish', (id, context) => {
      const f = this.draw.getSnapshotFeature(id);
      if (!f) return;
      if (this.tool === 'draw' && f.geometry.type === 'Polygon') {
        hooks.onPolygon(f.geometry.coordinates as Ring[]);
        this.draw.clear();
      } else if (this.tool === 'split' && f.geometry.type === 'LineString') {
        hooks.onLine(f.geometry.coordinates as LngLat[]);
        this.draw.clear();
      } else if (this.tool === 'edit' && f.geometry.type === 'Polygon' && context.action !== 'draw') {
        hooks.onReshape(f.geometry.coordinates as Ring[]);
      }
    });
  }

  /** Switches tool; `edit` loads the polygon to reshape. */
  setTool(tool: DrawTool, polygon?: Ring[]): void {
    this.tool = tool;
    this.draw.clear();
    this.hooks.onSketch(null);
    if (tool === 'draw') this.draw.setMode('polygon');
    else if (tool === 'split') this.draw.setMode('linestring');
    else if (tool === 'edit' && polygon) {
      this.draw.setMode('select');
      const [result] = this.draw.addFeatures([{ type: 'Feature', geometry: { type: 'Polygon', coordinates: polygon }, properties: { mode: 'polygon' } }]);
      if (result?.valid && result.id !== undefined) this.draw.selectFeature(result.id);
    } else this.draw.setMode('static');
  }

  destroy(): void {
    this.draw.stop();
  }
}
