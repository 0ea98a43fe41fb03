// Cirrus as the hidden master of a real NSD 4 secondary (Debian nsd, started here on
// loopback with the configuration `cirrus nsd-config` prints): NSD starts empty, is
// NOTIFYed, transfers with TSIG and serves exactly the static view; an API change reaches
// it within 5 s as an incremental IXFR; it keeps serving with Cirrus stopped; unsigned and
// badly signed transfers are refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually } from '../helpers/wait.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startNsd, type NsdServer } from '../helpers/nsd.js';
import { freePort } from '../helpers/redis-server.js';
import { nsdConfig } from '../../src/xfr/nsd-config.js';
import { Peers } from '../../src/xfr/peers.js';
import { exportRecords } from '../../src/snapshot/export.js';
import { fqdn } from '../../src/lib/dnsname.js';
import { typeName } from '../../src/wire/constants.js';

const SECRET = randomBytes(32).toString('base64');
const KEY = `hmac-sha256:xfr-key:${SECRET}`;

async function soaSerial(port: number): Promise<number | undefined> {
  const r = await dig(port, ['+norec', 'cdn.example.net', 'SOA']);
  const soa = r.answer.find((l) => l.includes(' SOA '));
  return soa ? Number(soa.split(' ')[6]) : undefined;
}

describe('hidden master → real NSD secondary', () => {
  let run: RunningCirrus;
  let nsd: NsdServer;
  let stopped = false;

  before(async () => {
    const nsdPort = await freePort();
    run = await startCirrus({
      xfr: {
        keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET }],
        secondaries: [{ name: 'nsd1', address: '127.0.0.1', port: nsdPort, key: 'xfr-key' }],
        notifyRetryMs: 100,
        notifyMaxRetryMs: 500,
        pollIntervalMs: 200,
      },
    });
    assert.equal(
      (
        await api(run, 'PUT', '/api/v1/nodes', [
          { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra' },
          { id: 'iad-1', ipv4: '192.0.2.31', pool: 'iad' },
          { id: 'iad-2', ipv4: '192.0.2.32', pool: 'iad' },
        ])
      ).status,
      200,
    );
    for (const d of ['www.example.com', 'img.example.com', 'static.example.org'])
      assert.equal(
        (
          await api(run, 'POST', '/api/v1/domains', {
            domain: d,
            origins: [{ address: '203.0.113.9' }],
          })
        ).status,
        201,
      );
    assert.equal(
      (
        await api(
          run,
          'PUT',
          '/api/v1/zone/records',
          'www 300 IN CNAME www-example-com\ntxt 60 IN TXT "hello" "world"\nmx 300 IN MX 10 mail.example.com.\n',
        )
      ).status,
      200,
    );
    const config = run.config;
    nsd = await startNsd(
      (_port, serverSettings) =>
        nsdConfig(config, new Peers(config.xfr, null), {
          secondary: 'nsd1',
          master: `127.0.0.1@${run.dnsPort}`,
          serverSettings,
        }),
      nsdPort,
    );
  });

  after(async () => {
    if (!stopped) await run?.stop();
    await nsd?.stop();
  });

  it('NSD starts empty, transfers with TSIG and serves exactly the static view', async () => {
    const serial = run.cirrus.snapshots.current.serial;
    await eventually('NSD to serve our serial', 10_000, async () =>
      (await soaSerial(nsd.port)) === serial ? true : undefined,
    );
    const records = exportRecords(run.cirrus.snapshots.current);
    const questions = new Map<string, [string, string]>();
    for (const r of records) questions.set(`${r.name}/${r.type}`, [fqdn(r.name), typeName(r.type)]);
    assert.ok(questions.size >= 10, `only ${questions.size} RRsets`);
    for (const [name, type] of questions.values()) {
      const [ours, theirs] = await Promise.all([
        dig(run.dnsPort, ['+norec', name, type]),
        dig(nsd.port, ['+norec', name, type]),
      ]);
      assert.equal(theirs.status, 'NOERROR', `${name} ${type} at NSD: ${theirs.raw}`);
      // Base names: Cirrus answers the resolver's location; with no GeoIP that is the
      // default view, the same as the transferred one.
      assert.deepEqual([...theirs.answer].sort(), [...ours.answer].sort(), `${name} ${type}`);
    }
    const status = (await api(run, 'GET', '/api/v1/secondaries')).json;
    const nsd1 = status.secondaries[0];
    assert.equal(nsd1.name, 'nsd1');
    assert.equal(nsd1.lastTransfer.serial, serial);
    assert.match(nsd1.lastTransfer.kind, /^(axfr|ixfr-full|ixfr)$/);
    assert.match(nsd.log(), /TSIG verified with key xfr-key/);
  });

  it('a domain added through the API is served by NSD within 5 s, as an incremental IXFR', async () => {
    const started = Date.now();
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: 'new.example.net',
      origins: [{ address: '203.0.113.77' }],
    });
    assert.equal(res.status, 201);
    const name = fqdn(res.json.cname);
    const answer = await eventually('NSD to answer the new base name', 5_000, async () => {
      const r = await dig(nsd.port, ['+norec', name, 'A']);
      return r.status === 'NOERROR' && r.answer.length > 0 ? r.answer : undefined;
    });
    const latency = Date.now() - started;
    assert.ok(latency < 5000, `${latency} ms`);
    const ours = await dig(run.dnsPort, ['+norec', name, 'A']);
    assert.deepEqual(answer, ours.answer);
    const nsd1 = (await api(run, 'GET', '/api/v1/secondaries')).json.secondaries[0];
    assert.equal(nsd1.lastTransfer.kind, 'ixfr', JSON.stringify(nsd1));
    // SOA(new), SOA(old), SOA(new), the base name's A and AAAA, SOA(new): a handful, not the zone.
    assert.ok(nsd1.lastTransfer.records <= 8, `${nsd1.lastTransfer.records} records`);
    console.log(`# API write → NSD serving: ${latency} ms`);
  });

  it('reports each secondary: NOTIFY acknowledged, serial served, no lag, the last transfer', async () => {
    const serial = run.cirrus.snapshots.current.serial;
    const nsd1 = await eventually('the poll to see NSD current', 3_000, async () => {
      const s = (await api(run, 'GET', '/api/v1/secondaries')).json.secondaries[0];
      return s.current ? s : undefined;
    });
    assert.equal(nsd1.servedSerial, serial);
    assert.equal(nsd1.lagSeconds, 0);
    assert.equal(nsd1.lastNotify.serial, serial);
    assert.ok(nsd1.lastNotify.ackedAt, 'acknowledged');
    assert.equal(nsd1.key, 'xfr-key');
    const metrics = await (await fetch(`${run.apiUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`cirrus_secondary_serial\\{secondary="nsd1"\\} ${serial}`));
    assert.match(metrics, /cirrus_notify_total\{secondary="nsd1",result="acked"\} [1-9]/);
    assert.match(metrics, /cirrus_xfr_requests_total\{kind="ixfr",result="ok"\} [1-9]/);
  });

  it('refuses an unsigned transfer, a wrong secret (BADSIG) and an unknown key (BADKEY)', async () => {
    const unsigned = await dig(run.dnsPort, ['cdn.example.net', 'AXFR']);
    assert.match(unsigned.raw, /Transfer failed|REFUSED/);
    assert.doesNotMatch(unsigned.raw, /IN\s+SOA/);
    const wrong = await dig(run.dnsPort, [
      '-y',
      `hmac-sha256:xfr-key:${randomBytes(32).toString('base64')}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.doesNotMatch(wrong.raw, /IN\s+SOA/);
    assert.match(wrong.raw, /TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG/);
    const unknown = await dig(run.dnsPort, [
      '-y',
      `hmac-sha256:nobody:${SECRET}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.doesNotMatch(unknown.raw, /IN\s+SOA/);
    assert.match(unknown.raw, /nobody\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY/);
    // A zone we do not serve, asked with the right key: refused, and the refusal is signed.
    const other = await dig(run.dnsPort, ['-y', KEY, 'example.org', 'AXFR']);
    assert.doesNotMatch(other.raw, /IN\s+SOA|Couldn't verify/);
    assert.match(other.raw, /Transfer failed/);
    const ok = await dig(run.dnsPort, ['-y', KEY, 'cdn.example.net', 'AXFR']);
    assert.match(ok.raw, /IN\s+SOA/);
    assert.doesNotMatch(ok.raw, /tsig verify failure|Transfer failed/i);
  });

  it('NSD keeps serving the zone when Cirrus is stopped', async () => {
    const before = await dig(nsd.port, ['+norec', 'txt.cdn.example.net', 'TXT']);
    await run.stop();
    stopped = true;
    const after = await dig(nsd.port, ['+norec', 'txt.cdn.example.net', 'TXT']);
    assert.equal(after.status, 'NOERROR');
    assert.deepEqual(after.answer, before.answer);
    assert.deepEqual(after.answer, ['txt.cdn.example.net. 60 IN TXT "hello" "world"']);
  });
});
