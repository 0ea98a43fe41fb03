#!/usr/bin/env node
// Builds the optional batched-UDP addon (native/udp-batch) with the node-gyp that ships
// with npm. Run by `npm install`/`npm ci` (the package's `install` script) and by
// test/run.sh. It never fails: without a compiler, Python, headers or Linux, it says why
// and exits 0, and Cirrus answers UDP with node:dgram.
//
//   node scripts/build-native.mjs            build (quiet unless it fails)
//   CIRRUS_UDP_BATCH=off npm ci              skip the build
//   node scripts/build-native.mjs --strict   exit 1 when the build fails (CI)
//
// Headers: the running node's own (`<prefix>/include/node`, which the system packages and
// the node-linux-* npm packages both ship) when present, so nothing is downloaded; else
// npm's `nodedir` setting, else node-gyp's default (a download).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'udp-batch');

function skip(reason, failure = true) {
  console.warn(`cirrus: batched UDP addon not built (${reason}); UDP uses node:dgram`);
  process.exit(strict && failure ? 1 : 0);
}

if ((process.env.CIRRUS_UDP_BATCH ?? '').toLowerCase() === 'off')
  skip('CIRRUS_UDP_BATCH=off', false);
if (process.platform !== 'linux') skip(`recvmmsg/sendmmsg need Linux, this is ${process.platform}`);
if (!existsSync(join(dir, 'binding.gyp'))) skip('native/udp-batch is not in this install');

function nodeGyp() {
  // npm sets npm_config_node_gyp for its lifecycle scripts; elsewhere find npm's copy.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const candidates = [
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp',
  ];
  for (const c of candidates)
    if (existsSync(join(c, 'bin', 'node-gyp.js'))) return join(c, 'bin', 'node-gyp.js');
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const gyp = nodeGyp();
if (!gyp) skip('node-gyp not found (it ships with npm)');
const args = [gyp, 'rebuild', '--loglevel=error'];
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

const started = Date.now();
const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
if (r.error || r.status !== 0) {
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  if (output) console.warn(output);
  skip(r.error ? r.error.message : `node-gyp exited with ${r.status}`);
}
const built = join(dir, 'build', 'Release', 'udp_batch.node');
if (!existsSync(built)) skip(`node-gyp left no ${built}`);
console.log(`cirrus: batched UDP addon built in ${Date.now() - started} ms (${built})`);
