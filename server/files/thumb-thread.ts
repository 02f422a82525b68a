/**
 * Thumbnails in a worker thread of their own: decoding a 1,600 px JPEG in JavaScript takes a few
 * hundred milliseconds, which on the server's thread would hold every other request. One at a time;
 * the server ends the thread when one takes too long (`thumb.ts`).
 */
import { parentPort } from 'node:worker_threads';
import { thumbnail } from './thumb-make.ts';

export type ThumbRequest = { id: number; bytes: Uint8Array; mime: string };
export type ThumbReply = { id: number; thumb: Uint8Array | null };

if (parentPort) {
  const port = parentPort;
  port.on('message', (m: ThumbRequest) => {
    let thumb: Uint8Array | null;
    try {
      thumb = thumbnail(m.bytes, m.mime);
    } catch {
      thumb = null;
    }
    port.postMessage({ id: m.id, thumb } satisfies ThumbReply, thumb ? [thumb.buffer as ArrayBuffer] : []);
  });
  // ready: the server starts timing its photos from here
  port.postMessage({ id: 0, thumb: null } satisfies ThumbReply);
}
