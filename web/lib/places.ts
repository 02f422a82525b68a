import { api, ok } from './api.ts';

export interface Place {
  id: number;
  name: string;
  level: string;
}

/** Places to choose from, in groups: a district's townships; under a city, each county with its townships. */
export interface PlaceChoices {
  top: Place | null;
  groups: { label: string | null; places: Place[] }[];
}

const place = (f: { id: number; properties: { name: string; level: string } }): Place => ({ id: f.id, name: f.properties.name, level: f.properties.level });

/**
 * The top of the plan and the places below it a filter offers. A district: its townships. A city: each
 * county, then that county's townships (a city's planner, centre or leader works a county or a
 * township at a time; the city's own list of townships would be a hundred names without a county).
 */
export async function placeChoices(): Promise<PlaceChoices> {
  const tops = await ok(api.regions.$get({ query: {} }));
  const first = tops.features[0];
  if (!first) return { top: null, groups: [] };
  const top = place(first);
  const below = (id: number) => ok(api.regions[':id'].children.$get({ param: { id: String(id) }, query: {} }));
  const children = (await below(top.id)).features.map(place);
  if (top.level !== 'city') return { top, groups: [{ label: null, places: children }] };
  const groups = await Promise.all(children.map(async (county) => ({ label: county.name, places: [county, ...(await below(county.id)).features.map(place)] })));
  return { top, groups };
}

/** The plan's districts: the plan's top when it is one, else the city's counties. */
export async function districtChoices(): Promise<Place[]> {
  const first = (await ok(api.regions.$get({ query: {} }))).features[0];
  if (!first) return [];
  if (first.properties.level === 'district') return [place(first)];
  if (first.properties.level !== 'city') return [];
  return (await ok(api.regions[':id'].children.$get({ param: { id: String(first.id) }, query: {} }))).features.map(place);
}
