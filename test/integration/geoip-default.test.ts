// README's "GeoDNS out of the box" lines, run with real `dig` against a server whose
// configuration gives no `geo.databases` and seeds `zones/`: the bundled ip-location-db
// country database must put two countries into two different pools, and `whoami` must
// report the location, exactly as the README prints them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledGeoDatabases } from '../../src/config/load.js';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';

// Asynchronous: the server answers from this same process.
const dig = async (args: string[]): Promise<string> =>
  (
    await promisify(execFile)('dig', [...args, '+time=2', '+tries=1'], { encoding: 'utf8' })
  ).stdout.trim();

const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface Line {
  readonly args: string[];
  readonly expect: string;
}

/** The `dig` lines of the section's sh block, each with the `# →` line after it. */
function readmeDigs(): Line[] {
  const readme = readFileSync(`${REPO}README.md`, 'utf8');
  const section = readme.split(/^### GeoDNS out of the box$/m)[1];
  const block = section && /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README has no sh block under "### GeoDNS out of the box"');
  const lines = (block[1] as string).split('\n');
  const out: Line[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('dig ')) return;
    const expect = /^# → (.*)$/.exec(lines[i + 1] ?? '');
    if (!expect) throw new Error(`no "# →" line after: ${line}`);
    out.push({ args: line.split(/\s+/).slice(1), expect: expect[1] as string });
  });
  return out;
}

describe('GeoIP on by default (README "GeoDNS out of the box")', () => {
  let run: RunningCirrus;
  before(async () => {
    // `geo: {}` gives no databases, as a configuration without a geo section does; the
    // helper's own default (GeoIP off) is what this replaces.
    run = await startCirrus({ seed: { dir: `${REPO}zones` }, geo: {} });
  });
  after(() => run?.stop());

  it('loads the bundled database when geo.databases is not given', () => {
    assert.deepEqual(run.config.geo.databases, bundledGeoDatabases());
    assert.match(run.config.geo.databases[0] as string, /geo-whois-asn-country\.mmdb$/);
    assert.equal(run.cirrus.geo.databases().length, 1);
  });

  it('answers two countries from two pools, and whoami names the location', async () => {
    const digs = readmeDigs();
    assert.equal(digs.length, 3);
    const answers: string[] = [];
    for (const { args, expect } of digs) {
      const withPort = args.map((a) => (a === '5353' ? String(run.dnsPort) : a));
      const out = await dig(withPort);
      // The README line holds the answer, then a note in parentheses; whoami's first lines
      // name the resolver's port and so are elided with "…".
      const wanted = expect.replace(/\s+\(.*\)$/, '').replace(/^… /, '');
      const got = wanted.startsWith('"') ? (out.split('\n').at(-1) ?? '') : out;
      assert.equal(got, wanted, `dig ${withPort.join(' ')}`);
      answers.push(got);
    }
    assert.notEqual(answers[0], answers[1], 'US and NL clients get different pools');
  });

  it('an explicitly empty geo.databases turns GeoIP off', async () => {
    const off = await startCirrus({ seed: { dir: `${REPO}zones` }, geo: { databases: [] } });
    try {
      assert.equal(off.cirrus.geo.databases().length, 0);
      const out = await dig([
        '@127.0.0.1',
        '-p',
        String(off.dnsPort),
        'static-example-org.cdn.example.net',
        'A',
        '+norec',
        '+short',
        '+subnet=193.0.6.0/24',
      ]);
      assert.equal(out, '192.0.2.31', 'default pool iad for everyone');
    } finally {
      await off.stop();
    }
  });
});
