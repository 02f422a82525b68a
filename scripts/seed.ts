/**
 * Builds the demo district into the configured database.
 *   npm run seed -- [--scale 1] [--seed 20261123] [--district 530303] [--boundaries data/boundaries/qujing.geojson] [--reset]
 * Or a whole city, every county of it under the city (曲靖: nine, about 21,500 grids at scale 1):
 *   npm run seed -- --city qujing [--scale 1] [--seed 20261123] [--reset]
 * Uses DATABASE_URL when set, else the embedded database in GRIDPLAN_DATA_DIR (default .gridplan-data).
 */
import { parseArgs } from 'node:util';
import { maintain, openDb } from '../server/db/db.ts';
import { dropSchema, migrate } from '../server/db/migrate.ts';
import { byCode } from '../server/db/region-queries.ts';
import { DEMO, seedDistrict } from '../server/seed/seed-district.ts';
import { CITIES, seedCity } from '../server/seed/seed-city.ts';
import { loadConfig } from '../server/config.ts';
import { describeAccounts, ensureAccounts } from '../server/seed/accounts.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: String(DEMO.scale) },
    seed: { type: 'string', default: String(DEMO.seed) },
    district: { type: 'string', default: DEMO.districtCode },
    boundaries: { type: 'string', default: DEMO.boundaryFile },
    reset: { type: 'boolean', default: false },
    city: { type: 'string' },
  },
});
const config = loadConfig();
const db = await openDb(config);
if (values.reset) await dropSchema(db);
await migrate(db);
const progress = (() => {
  const t0 = performance.now();
  return (step: string) => console.log(`  ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${step}`);
})();
if (values.city) {
  const code = CITIES[values.city]?.code;
  if (code && (await byCode(db, code)).features.length > 0) {
    console.error(`${values.city} is already in the database; pass --reset to rebuild it`);
    process.exit(1);
  }
  const summary = await seedCity(db, {
    city: values.city,
    seed: Number(values.seed),
    scale: Number(values.scale),
    rule: DEMO.rule!,
    onProgress: progress,
  });
  const { districts, grids, households } = summary;
  console.log(`seeded ${values.city} in ${(summary.ms / 1000).toFixed(1)} s: ${districts.length} districts, ${grids} grids, ${households} households`);
  // The embedded database marks the new pages all-visible now, else every count reads the table until the first daily housekeeping.
  await maintain(db);
  await accounts();
  await db.close();
  process.exit(0);
}
if ((await byCode(db, values.district)).features.length > 0) {
  console.error(`district ${values.district} is already in the database; pass --reset to rebuild it`);
  process.exit(1);
}
const summary = await seedDistrict(db, {
  // the demo district keeps its own rule and size; another one gets the defaults
  ...(values.district === DEMO.districtCode ? { households: DEMO.households, rule: DEMO.rule } : {}),
  districtCode: values.district!,
  boundaryFile: values.boundaries!,
  seed: Number(values.seed),
  scale: Number(values.scale),
  onProgress: progress,
});
console.log(`seeded in ${(summary.ms / 1000).toFixed(1)} s:`, summary);
await maintain(db);
await accounts();
await db.close();

/**
 * The accounts to try the seeded plan with, as `npm start` makes them for its embedded demo: admin and one of each role
 * (GRIDPLAN_ADMIN_PASSWORD and GRIDPLAN_DEMO_PASSWORD choose their passwords), on a database that has no accounts yet.
 */
async function accounts(): Promise<void> {
  const made = await ensureAccounts(db, { demo: true, adminPassword: config.adminPassword, demoPassword: config.demoPassword });
  for (const line of describeAccounts(made)) console.log(line);
}
