// README's "Five minutes with it" block, run as a new user would: in a fresh copy of the
// checkout, each line of the block exactly as written, one after the other, with nothing added
// between them (no sleep, no retry of our own). It pins that a token made by the CLI beside a
// running server is accepted at once and that the block's printed results are what it gives.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The first `sh` block under the "Five minutes with it" heading. */
function fiveMinuteBlock(readme: string): string {
  const section = readme.split(/^## Five minutes with it$/m)[1];
  const block = section && /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README has no sh block under "## Five minutes with it"');
  return block[1] as string;
}

/** The checkout's files as they are in the work tree (tracked and new, not ignored). */
function copyCheckout(into: string): void {
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  assert.equal(files.status, 0, files.stderr);
  const present = files.stdout
    .split('\0')
    .filter((f) => f && spawnSync('test', ['-e', join(REPO, f)]).status === 0);
  const pack = spawnSync('tar', ['--null', '-T', '-', '-cf', '-'], {
    cwd: REPO,
    input: present.join('\0'),
    maxBuffer: 1 << 30,
  });
  assert.equal(pack.status, 0, String(pack.stderr));
  const unpack = spawnSync('tar', ['-xf', '-', '-C', into], { input: pack.stdout });
  assert.equal(unpack.status, 0, String(unpack.stderr));
}

/** The JSON object that starts at the first `prefix` in `text`, whatever follows it. */
function firstObjectAt(text: string, prefix: string): unknown {
  const start = text.indexOf(prefix);
  if (start < 0) return undefined;
  for (let end = text.indexOf('}', start); end >= 0; end = text.indexOf('}', end + 1)) {
    try {
      return JSON.parse(text.slice(start, end + 1));
    } catch {
      // not yet the object's closing brace
    }
  }
  return undefined;
}

/** The environment of a new shell: nothing of ours that would point Cirrus elsewhere. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const ours =
    /^(CIRRUS_CONFIG|CNAME_BASE_DOMAIN|REDIS_URL|STATE_FILE|DNS_LISTEN|API_LISTEN|DNS_NSID|SEED_DIR|LOG_LEVEL|GSLB_TTL|NODE_OPTIONS|NODE_TEST_CONTEXT)$/;
  for (const [k, v] of Object.entries(process.env))
    if (!ours.test(k) && !k.startsWith('npm_')) env[k] = v;
  return env;
}

describe("README's five minutes, verbatim", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-five-minutes-'));
  let group: number | undefined;
  after(() => {
    // `npm start &` leaves the server running in the shell's process group.
    if (group !== undefined) {
      try {
        process.kill(-group, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'creates a domain with a fresh CLI token and dig sees it, as the block says',
    { timeout: 300_000 },
    async () => {
      const block = fiveMinuteBlock(readFileSync(join(REPO, 'README.md'), 'utf8'));
      copyCheckout(dir);
      // -e: the first failing line fails the test; the lines are the block's, unchanged.
      const shell = spawn('bash', ['-e', '-c', block], {
        cwd: dir,
        env: userEnv(),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      group = shell.pid;
      let out = '';
      let err = '';
      shell.stdout.on('data', (b: Buffer) => (out += b));
      shell.stderr.on('data', (b: Buffer) => (err += b));
      const code = await new Promise<number | null>((resolve) => shell.on('exit', resolve));
      assert.equal(code, 0, `the block failed:\n${out}\n${err}`);

      // What the block's own "# →" lines promise. curl's JSON has no newline after it, so
      // the server's log lines may follow it on the same line: read the first whole object.
      const created = firstObjectAt(out, '{"domain":"www.example.com"');
      assert.ok(created, `curl printed no domain:\n${out}\n${err}`);
      const domain = created as {
        label: string;
        cname: string;
        serving: { ipv4: string[] };
      };
      assert.equal(domain.label, 'www-example-com');
      assert.equal(domain.cname, 'www-example-com.cdn.example.net');
      assert.deepEqual(domain.serving.ipv4, ['192.0.2.31']);
      assert.match(out, /flags: qr aa;/);
      assert.match(out, /^www-example-com\.cdn\.example\.net\.\s+60\s+IN\s+A\s+192\.0\.2\.31$/m);
    },
  );
});
