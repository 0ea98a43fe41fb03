// Bench only: writes an embedded-store file already holding a seed folder and one API
// token, so a large benchmark store starts in seconds. The store writes behind, so the
// 100,000 seeded domains reach the file in one write, at stop(). Uses dist/.
// CLI: node bench/state-file.mjs SEED_DIR STATE_FILE  → prints the token.
import { rmSync } from 'node:fs';
import { loadConfig } from '../dist/src/config/load.js';
import { EmbeddedStore } from '../dist/src/store/embedded.js';
import { repositories } from '../dist/src/repositories.js';
import { seedStore } from '../dist/src/domains/seed.js';
import { createToken } from '../dist/src/auth/tokens.js';

const [seedDir, file] = process.argv.slice(2);
const config = loadConfig({ env: { SEED_DIR: seedDir, STATE_FILE: file } });
rmSync(file, { force: true });
const store = new EmbeddedStore({ file });
await store.start();
const repos = repositories(store);
await seedStore(config, repos, seedDir);
const { token } = await createToken(repos, 'bench');
await store.stop();
console.log(token);
