import jpeg from 'jpeg-js';

/** The long side of a photo's thumbnail, in pixels: a card shows photos about 100 px wide, twice that on a sharp screen, and a little more. */
export const THUMB_SIDE = 320;

/**
 * A small JPEG of a photo for the cards that list it (a queue page of 30 cases loaded 1,600 px photos,
 * some 9 MB on a field worker's line): decoded by `jpeg-js`, averaged down to `THUMB_SIDE` on its
 * long side, encoded again. Null for what it cannot or need not make smaller: a PNG or WebP, an
 * undecodable or oversized JPEG (a decoding bomb is stopped by the decoder's own limits), or one
 * already this small; the card then shows the photo itself.
 */
export function thumbnail(bytes: Uint8Array, mime: string): Uint8Array | null {
  if (mime !== 'image/jpeg') return null;
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 40, maxMemoryUsageInMB: 256 });
  } catch {
    return null;
  }
  const scale = THUMB_SIDE / Math.max(img.width, img.height);
  if (scale >= 1) return null;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const out = new Uint8Array(w * h * 4);
  // each thumbnail pixel: the mean of the source pixels its box covers (no aliasing from skipped rows)
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * img.height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * img.height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * img.width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * img.width) / w));
      let [r, g, b] = [0, 0, 0];
      for (let sy = y0; sy < y1; sy++) {
        let i = (sy * img.width + x0) * 4;
        for (let sx = x0; sx < x1; sx++, i += 4) {
          r += img.data[i]!;
          g += img.data[i + 1]!;
          b += img.data[i + 2]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * w + x) * 4;
      out[o] = r / n;
      out[o + 1] = g / n;
      out[o + 2] = b / n;
      out[o + 3] = 255;
    }
  }
  return new Uint8Array(jpeg.encode({ width: w, height: h, data: out }, 75).data);
}
