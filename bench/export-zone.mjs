// Fallback for bench/run: prints the zone exactly as `cirrus zone export` does, but
// seeds the store from SEED_DIR first. `cirrus zone export` opens the store without
// seeding it, so with a memory store (STATE_FILE=) it prints only SOA/NS/glue, not
// what the running server (which did seed) answers. Same config, same code path.
// Usage (from the repository root, after a build): SEED_DIR=... node bench/export-zone.mjs
import { loadConfig } from '../dist/src/config/load.js';
import { openStore } from '../dist/src/store/open.js';
import { seedStore } from '../dist/src/store/seed.js';
import { silentLogger } from '../dist/src/lib/logger.js';
import { buildSnapshot, contentHash, soaRecord } from '../dist/src/snapshot/build.js';
import { unixSerial } from '../dist/src/snapshot/serial.js';
import { exportZone } from '../dist/src/zone/export.js';

const config = loadConfig({});
const store = openStore(config, silentLogger());
await store.start();
try {
  if (config.seed.dir) await seedStore(config, store, config.seed.dir);
  const state = await store.loadState(config.zone.name);
  const hash = contentHash(config, state);
  const snapshot = buildSnapshot({ config, state, generation: 0, serial: 0, contentHash: hash });
  const serial = await store.advanceSerial(config.zone.name, hash, unixSerial());
  snapshot.zone.replaceSoa(soaRecord(config, serial));
  process.stdout.write(exportZone({ ...snapshot, serial }));
} finally {
  await store.stop();
}
