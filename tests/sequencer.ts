import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files first, by the durations of a full run kept in `durations.json`, so that two
 * workers finish together on a clean checkout too (CI has no vitest cache: by default it would start
 * the largest files, not the slowest, and one worker ran alone for a minute at the end). Files not
 * listed (new ones) keep vitest's own order after the listed ones' longest, before the quick ones.
 */
const DURATIONS: Record<string, number> = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8'));

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const root = process.cwd();
    const seconds = (f: TestSpecification) => DURATIONS[relative(root, f.moduleId)] ?? 30;
    return [...ordered].sort((a, b) => seconds(b) - seconds(a));
  }
}
