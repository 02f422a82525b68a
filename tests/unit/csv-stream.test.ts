import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCsv } from '../../server/http/upload.ts';

/** A body that arrives in the pieces given: as a network delivers it, cut anywhere, inside a character too. */
const streamOf = (bytes: Uint8Array, cuts: number[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      let at = 0;
      for (const cut of [...new Set(cuts)].sort((a, b) => a - b).filter((c) => c > 0 && c < bytes.length)) {
        controller.enqueue(bytes.slice(at, cut));
        at = cut;
      }
      controller.enqueue(bytes.slice(at));
      controller.close();
    },
  });

describe('a CSV upload read as it streams', () => {
  it('keeps every character whole wherever the chunks split its bytes (from the crash test: 崩溃测试1541号 came in as U+FFFD)', async () => {
    const text = ['lon,lat,size,address', ...Array.from({ length: 40 }, (_, i) => `103.8,25.6,${1 + (i % 5)},西平街道银湾村${i}号`)].join('\n');
    const bytes = new TextEncoder().encode(text);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 30 }), async (cuts) => {
        const read = await readCsv(
          streamOf(bytes, cuts),
          (row) => String(row.address),
          () => {},
        );
        expect(read.rows).toEqual(Array.from({ length: 40 }, (_, i) => `西平街道银湾村${i}号`));
      }),
      { numRuns: 200 },
    );
  });
});
