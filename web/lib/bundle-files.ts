import { zip, type AsyncZippable } from 'fflate';

/**
 * Several files chosen at once — a Shapefile's .shp, .shx, .dbf, .prj and .cpg, as a clerk finds
 * them in a folder — become one zip, which the server reads as it reads any zipped Shapefile.
 * One file goes up as it is. The zip is named after the .shp (else the first file); its
 * entries keep their names (fflate marks non-ASCII names as UTF-8). Stored, not compressed:
 * the upload is local and GDAL reads stored entries fastest.
 */
export async function bundleFiles(files: File[]): Promise<File> {
  if (files.length === 1) return files[0]!;
  const entries: AsyncZippable = {};
  for (const f of files) entries[uniqueName(entries, f.name)] = [new Uint8Array(await f.arrayBuffer()), { level: 0 }];
  const bytes = await new Promise<Uint8Array>((resolve, reject) => zip(entries, (err, out) => (err ? reject(err) : resolve(out))));
  const main = files.find((f) => /\.shp$/i.test(f.name)) ?? files[0]!;
  const stem = main.name.replace(/\.[^.]*$/, '') || 'files';
  return new File([bytes as Uint8Array<ArrayBuffer>], `${stem}.zip`, { type: 'application/zip' });
}

/** The same name twice (two folders' 村界.shp dropped together) would overwrite: the second becomes 村界 (2).shp. */
function uniqueName(taken: AsyncZippable, name: string): string {
  if (!(name in taken)) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let i = 2; ; i++) if (!(`${stem} (${i})${ext}` in taken)) return `${stem} (${i})${ext}`;
}
