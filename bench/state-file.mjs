// Bench only: writes an embedded-store file already holding a seed folder and one API
// token, so a large benchmark store starts in seconds (seeding 100,000 domains into a
// file store one write at a time rewrites the whole file each time). Uses dist/.
// CLI: node bench/state-file.mjs SEED_DIR STATE_FILE  → prints the token.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../dist/src/config/load.js';
import { EmbeddedStore } from '../dist/src/store/embedded.js';
import { seedStore } from '../dist/src/store/seed.js';
import { createToken } from '../dist/src/auth/tokens.js';

const [seedDir, file] = process.argv.slice(2);
const config = loadConfig({ env: { SEED_DIR: seedDir, STATE_FILE: '' } });
const store = new EmbeddedStore({});
await store.start();
await seedStore(config, store, seedDir);
const { token } = await createToken(store, 'bench');
// The store's own persisted form (FileState), written once.
writeFileSync(file, JSON.stringify(store['state']));
await store.stop();
console.log(token);
