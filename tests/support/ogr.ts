import { execFileSync } from 'node:child_process';

/** What GDAL's own ogrinfo (apt gdal-bin) reads of a file: its layers with feature counts and EPSG code. */
export function ogrinfo(file: string): { layers: Record<string, { count: number; epsg: string | null }>; text: string } {
  const text = execFileSync('ogrinfo', ['-so', '-al', file], { encoding: 'utf8' });
  const layers: Record<string, { count: number; epsg: string | null }> = {};
  for (const block of text.split(/\nLayer name: /).slice(1)) {
    const name = block.split('\n')[0]!.trim();
    const count = Number(/Feature Count: (\d+)/.exec(block)?.[1]);
    const ids = [...block.matchAll(/ID\["EPSG",(\d+)\]/g)].map((m) => m[1]);
    layers[name] = { count, epsg: ids.at(-1) ?? null };
  }
  return { layers, text };
}

/** One feature's values as ogrinfo prints them. */
export function ogrValues(file: string, layer: string, where: string): Record<string, string> {
  const text = execFileSync('ogrinfo', ['-q', '-geom=NO', file, layer, '-where', where], { encoding: 'utf8' });
  return Object.fromEntries([...text.matchAll(/^\s+(\S+) \([A-Za-z0-9]+\) = (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}
