// The wire output of every answer, byte for byte: a few thousand varied queries (test/golden/
// queries.ts) over real UDP and TCP sockets against a server holding a fixed state
// (test/golden/state.ts), compared with test/fixtures/wire-golden/responses.ndjson.
// UPDATE_GOLDEN=1 rewrites the file (see its README for when that is right).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { writeGeoFixtures } from '../fixtures/geo/generate.js';
import { repos } from '../helpers/repos.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import {
  ACME_TXT,
  baseName,
  DOMAIN_NAMES,
  goldenConfig,
  PIN_HASH,
  PINNED_SERIAL,
  writeSeed,
  ZONE,
} from '../golden/state.js';
import { goldenCases, type GoldenCase } from '../golden/queries.js';
import { GoldenUdp, tcpExchange } from '../golden/exchange.js';

const FILE = new URL('../fixtures/wire-golden/responses.ndjson', import.meta.url);
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Recorded {
  name: string;
  transport: string;
  query: string;
  responses: string[];
}

/**
 * The one normalisation: whoami's first TXT line names the client's source port
 * ("resolver 127.0.0.1 port 40099 over udp"), which the kernel picks per socket. The digits
 * are replaced by as many 'x' (lengths, and so every length byte, stay as sent). Ephemeral
 * ports on Linux (32768–60999) always have five digits, so the recorded text is stable.
 */
function normalise(msg: Buffer, clientPort: number): Buffer {
  const needle = Buffer.from(`port ${clientPort} over `, 'latin1');
  const at = msg.indexOf(needle);
  if (at < 0) return msg;
  assert.equal(
    String(clientPort).length,
    5,
    `whoami names client port ${clientPort}: the recorded text has five digits (Linux ephemeral range)`,
  );
  const out = Buffer.from(msg);
  out.write('x'.repeat(String(clientPort).length), at + 5, 'latin1');
  return out;
}

/**
 * The second normalisation: a reply ending in a COOKIE option with an RFC 9018 server
 * cookie (option 10, length 24: the encoder writes it last) has its timestamp and hash,
 * which depend on the second and on the instance's random secret, replaced by zeros.
 * The client cookie and the server cookie's version and reserved octets stay as sent.
 */
function normaliseCookie(msg: Buffer): Buffer {
  const at = msg.length - 28;
  if (at < 12 || msg.readUInt16BE(at) !== 10 || msg.readUInt16BE(at + 2) !== 24) return msg;
  const out = Buffer.from(msg);
  out.fill(0, at + 4 + 8 + 4);
  return out;
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return Math.floor(i / 2);
}

describe('wire output golden set', () => {
  let run: RunningCirrus;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-golden-'));
    const geo = writeGeoFixtures(dir);
    const seed = join(dir, 'seed');
    mkdirSync(seed);
    writeSeed(seed);
    const store = new EmbeddedStore();
    await repos(store).serials.advance(ZONE, PIN_HASH, PINNED_SERIAL);
    for (const txt of ACME_TXT) await repos(store).acme.putTxt(txt);
    run = await startCirrus(goldenConfig(seed, [geo.city, geo.asn]), store);
  });
  after(async () => {
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the pinned state: serial, base names', async () => {
    assert.equal(run.cirrus.snapshots.current.serial, PINNED_SERIAL + 1);
    const { json } = await api(run, 'GET', '/api/v1/domains');
    const cnames = new Map(
      (json as Array<{ domain: string; cname: string }>).map((d) => [d.domain, d.cname]),
    );
    for (const d of DOMAIN_NAMES) assert.equal(cnames.get(d), baseName(d));
  });

  it('answers every golden query byte for byte as recorded', async () => {
    const cases = goldenCases();
    const udp = new GoldenUdp(run.dnsPort);
    const udpPort = await udp.open();
    const actual: Recorded[] = [];
    try {
      for (const c of cases) actual.push(await ask(c));
    } finally {
      udp.close();
    }

    async function ask(c: GoldenCase): Promise<Recorded> {
      let responses: Buffer[];
      let port = udpPort;
      if (c.transport === 'udp') responses = await udp.exchange(c.query);
      else ({ responses, localPort: port } = await tcpExchange(run.dnsPort, c.query));
      return {
        name: c.name,
        transport: c.transport,
        query: c.query.toString('hex'),
        responses: responses.map((r) => normaliseCookie(normalise(r, port)).toString('hex')),
      };
    }

    if (UPDATE) {
      writeFileSync(FILE, actual.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return;
    }
    const recorded = readFileSync(FILE, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Recorded);
    const byName = new Map(recorded.map((r) => [r.name, r]));
    assert.deepEqual(
      actual.map((r) => r.name),
      recorded.map((r) => r.name),
      'the query set differs from the recorded one (test/golden/queries.ts changed?)',
    );
    const diffs: string[] = [];
    for (const a of actual) {
      const r = byName.get(a.name) as Recorded;
      if (a.query !== r.query) diffs.push(`${a.name}: query bytes differ from the recorded query`);
      else if (a.responses.length !== r.responses.length)
        diffs.push(`${a.name}: ${a.responses.length} responses, recorded ${r.responses.length}`);
      else
        a.responses.forEach((hex, i) => {
          const want = r.responses[i] as string;
          if (hex !== want)
            diffs.push(
              `${a.name}: response ${i} differs at byte ${firstDifference(hex, want)}\n  got  ${hex}\n  want ${want}`,
            );
        });
    }
    assert.equal(
      diffs.length,
      0,
      `${diffs.length} of ${actual.length} answers differ:\n${diffs.slice(0, 20).join('\n')}`,
    );
  });
});
