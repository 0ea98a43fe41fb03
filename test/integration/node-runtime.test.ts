// scripts/node-runtime.sh, the Node that `npm start` and test/run.sh run on: the `node` on
// PATH when it is 22 or newer, else the Node 24 in .runtime/; with arguments it runs them.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts/node-runtime.sh');
const LOCAL_NODE = join(
  REPO,
  `.runtime/node_modules/node-${process.platform}-${process.arch}/bin/node`,
);

async function launcher(args: string[], path = process.env.PATH ?? ''): Promise<string> {
  const { stdout } = await run('bash', [SCRIPT, ...args], {
    env: { ...process.env, PATH: path },
    timeout: 60_000,
  });
  return stdout.trim();
}

describe('scripts/node-runtime.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-node-runtime-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a node of major 22 or newer, and runs it with the arguments given', async () => {
    const node = await launcher([]);
    const { stdout } = await run(node, ['-p', 'process.versions.node']);
    assert.ok(Number(stdout.split('.')[0]) >= 22, stdout);
    const version = await launcher(['-p', 'process.version']);
    assert.equal(version, `v${stdout.trim()}`);
  });

  it(
    'passes over an older node on PATH for Node 24 in .runtime/',
    {
      skip: !existsSync(LOCAL_NODE) && 'no .runtime/ here (the system node is new enough)',
    },
    async () => {
      // A `node` that says it is 20, first on PATH.
      writeFileSync(join(dir, 'node'), '#!/bin/sh\necho 20\n', { mode: 0o755 });
      const node = await launcher([], `${dir}:${process.env.PATH ?? ''}`);
      assert.equal(node, LOCAL_NODE);
      const version = await launcher(['-p', 'process.versions.node'], `${dir}:${process.env.PATH}`);
      assert.match(version, /^24\./);
    },
  );
});
