// NOTIFY → NSD serving: how long after an API write a real NSD secondary answers the new
// name (Cirrus NOTIFYs, NSD asks for IXFR, Cirrus answers from the journal, NSD reloads).
// Also the AXFR size and time of a large zone to NSD. Loopback only; stops what it starts.
// Run: node --import tsx bench/notify-latency.ts [changes=20] [static records=20000]
import { randomBytes } from 'node:crypto';
import { api, startCirrus } from '../test/helpers/cirrus.js';
import { dig } from '../test/helpers/dig.js';
import { startNsd } from '../test/helpers/nsd.js';
import { freePort } from '../test/helpers/redis-server.js';
import { nsdConfig } from '../src/xfr/nsd-config.js';
import { Peers } from '../src/xfr/peers.js';

const CHANGES = Number(process.argv[2] ?? 20);
const RECORDS = Number(process.argv[3] ?? 20000);
const SECRET = randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nsdPort = await freePort();
const run = await startCirrus({
  xfr: {
    keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET }],
    secondaries: [{ name: 'nsd', address: '127.0.0.1', port: nsdPort, key: 'xfr-key' }],
    notifyRetryMs: 100,
    pollIntervalMs: 60000,
  },
});
const nsd = await startNsd(
  (_p, serverSettings) =>
    nsdConfig(run.config, new Peers(run.config.xfr, null), {
      secondary: 'nsd',
      master: `127.0.0.1@${run.dnsPort}`,
      serverSettings,
    }),
  nsdPort,
);
try {
  const zone = Array.from(
    { length: RECORDS },
    (_, i) => `host-${i} 300 IN A 198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
  ).join('\n');
  const started = Date.now();
  await api(run, 'PUT', '/api/v1/zone/records', zone);
  const serial = run.cirrus.snapshots.current.serial;
  for (;;) {
    const r = await dig(nsd.port, ['+norec', 'cdn.example.net', 'SOA']);
    if (r.answer.some((l) => l.includes(` ${serial} `))) break;
    await sleep(10);
  }
  const big = Date.now() - started;
  const axfr = await dig(run.dnsPort, [
    '-y',
    `hmac-sha256:xfr-key:${SECRET}`,
    'cdn.example.net',
    'AXFR',
  ]);
  const size = /XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)/.exec(axfr.raw);
  console.log(
    `zone of ${size?.[1]} records, ${size?.[3]} bytes in ${size?.[2]} messages: API write → NSD serving ${big} ms`,
  );

  const times: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const t0 = Date.now();
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: `bench-${i}.example.com`,
      origins: [{ address: '203.0.113.9' }],
    });
    const name = `${res.json.cname}.`;
    for (;;) {
      const r = await dig(nsd.port, ['+norec', name, 'A']);
      if (r.answer.length > 0) break;
      await sleep(2);
    }
    times.push(Date.now() - t0);
  }
  const status = (await api(run, 'GET', '/api/v1/secondaries')).json.secondaries[0];
  times.sort((a, b) => a - b);
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
  console.log(
    `${CHANGES} single-domain changes, API write → NSD serving: min ${times[0]} ms, median ${pct(50)} ms, p90 ${pct(90)} ms, max ${times.at(-1)} ms (last transfer: ${status.lastTransfer.kind}, ${status.lastTransfer.records} records)`,
  );
} finally {
  await run.stop();
  await nsd.stop();
}
