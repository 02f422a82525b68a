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
export async function placeChoices(from: number | null = null): Promise<PlaceChoices> {
  // An account given an area: that area and what is below it. Else the plan's tops (more than one when a
  // county was brought in beside the first: each is offered, in its own group).
  const tops =
    from !== null
      ? [place(await ok(api.regions[':id'].$get({ param: { id: String(from) }, query: {} })))]
      : (await ok(api.regions.$get({ query: {} }))).features.map(place);
  if (tops.length === 0) return { top: null, groups: [] };
  const below = async (id: number) => (await ok(api.regions[':id'].children.$get({ param: { id: String(id) }, query: {} }))).features.map(place);
  const several = tops.length > 1;
  const groupsOf = async (top: Place): Promise<PlaceChoices['groups']> => {
    if (top.level !== 'city') return [{ label: several ? top.name : null, places: [...(several ? [top] : []), ...(await below(top.id))] }];
    return Promise.all((await below(top.id)).map(async (county) => ({ label: county.name, places: [county, ...(await below(county.id))] })));
  };
  return { top: tops[0]!, groups: (await Promise.all(tops.map(groupsOf))).flat() };
}

/** The plan's districts: each top that is one, and each city's counties. */
export async function districtChoices(): Promise<Place[]> {
  const tops = (await ok(api.regions.$get({ query: {} }))).features;
  const out = await Promise.all(
    tops.map(async (t) =>
      t.properties.level === 'district'
        ? [place(t)]
        : t.properties.level === 'city'
          ? (await ok(api.regions[':id'].children.$get({ param: { id: String(t.id) }, query: {} }))).features.map(place)
          : [],
    ),
  );
  return out.flat();
}
