// DNS workers (dns.workers: 2) with real dig and nsupdate: UDP is answered by two worker
// processes, each on its own SO_REUSEPORT socket where the runtime allows (Node >= 22.12)
// and on one shared socket elsewhere, TCP by the main process, and every answer is the
// same; queries from many source ports are spread over both reusePort workers; an API
// write is answered by every worker as soon as it returns; signed queries, IXFR and UPDATE
// over UDP are forwarded to the main process; counters are summed across processes; a
// killed worker is replaced on the same port; stopping leaves no worker behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { api, startCirrus, testUdpPath, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { eventually } from '../helpers/wait.js';
import { nsupdate } from '../helpers/nsupdate.js';
import type { WorkerStatus } from '../../src/dns/workers.js';

const ZONE = 'cdn.example.net';
const SECRET = randomBytes(32).toString('base64');
const KEY = `hmac-sha256:w-key:${SECRET}`;
const OWNER = `_acme-challenge.app.example.com.acme.${ZONE}`;

/** A worker as /healthz lists it (a ready worker always has its pid). */
type WorkerInfo = WorkerStatus & { pid: number };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Node 22.12 and 23.1 brought `reusePort` to node:dgram (Linux has SO_REUSEPORT). */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const REUSEPORT = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
const MODE = REUSEPORT ? 'reuseport' : 'shared';

/** UDP sockets bound on 127.0.0.1:`port`, from the kernel's table (one per bind). */
async function udpSockets(port: number): Promise<number> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = await readFile('/proc/net/udp', 'utf8');
  return table.split('\n').filter((l) => l.trim().split(/\s+/)[1] === local).length;
}

/** The counter's value for one label set in the /metrics text, or 0. */
function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe(`DNS workers: UDP answered by two processes (${MODE} sockets)`, () => {
  let run: RunningCirrus;
  const workers = async (): Promise<WorkerInfo[]> =>
    (await api(run, 'GET', '/healthz')).json.dnsWorkers as WorkerInfo[];
  /** Each worker's answered-queries counter, by worker index. */
  const perWorker = async (): Promise<number[]> => {
    const text = (await api(run, 'GET', '/metrics')).json as string;
    return [0, 1].map((i) => metric(text, 'cirrus_dns_worker_queries_total', `worker="${i}"`));
  };
  /** Sends `n` queries, each from a new dig (a new source port); how many each worker got. */
  const spread = async (n: number): Promise<number[]> => {
    const before = await perWorker();
    // Ten digs at a time, so a loaded machine does not starve them past their timeout.
    for (let sent = 0; sent < n; sent += 10) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(10, n - sent) }, () =>
          dig(run.dnsPort, ['+norec', ZONE, 'SOA']),
        ),
      );
      for (const a of answers) assert.equal(a.status, 'NOERROR', a.raw);
    }
    const after = await perWorker();
    return after.map((v, i) => v - (before[i] ?? 0));
  };

  before(async () => {
    run = await startCirrus({
      dns: { workers: 2 },
      xfr: {
        keys: [{ name: 'w-key', algorithm: 'hmac-sha256', secret: SECRET }],
        allow: [{ cidr: '127.0.0.0/8', key: 'w-key' }],
      },
      acme: {
        issuer: { enabled: false },
        update: { keys: [{ key: 'w-key', domains: ['app.example.com'] }] },
      },
    });
    const nodes = Array.from({ length: 6 }, (_, i) => ({
      id: `edge-${i}`,
      ipv4: `192.0.2.${10 + i}`,
      ipv6: `2001:db8::${10 + i}`,
    }));
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', nodes)).status, 200);
  });
  after(() => run?.stop());

  it('has two ready workers, and /healthz lists them', async () => {
    const list = await workers();
    assert.equal(list.length, 2);
    assert.ok(list.every((w) => w.ready && alive(w.pid) && w.pid !== process.pid));
    assert.notEqual(list[0]?.pid, list[1]?.pid);
    assert.ok(list.every((w) => w.generation === run.cirrus.snapshots.current.generation));
    assert.equal((await api(run, 'GET', '/healthz')).json.status, 'ok');
  });

  it(`binds UDP in ${MODE} mode: ${REUSEPORT ? 'one socket per worker' : 'one shared socket'}`, async () => {
    const list = await workers();
    assert.ok(list.every((w) => w.udp === MODE));
    // On the cluster's shared socket only dgram can receive; with reusePort, the path tested.
    const path = REUSEPORT ? testUdpPath() : 'dgram';
    assert.ok(
      list.every((w) => w.udpPath === path),
      `${JSON.stringify(list)}`,
    );
    assert.equal(await udpSockets(run.dnsPort), REUSEPORT ? 2 : 1);
  });

  it(
    'spreads queries from many source ports over both reusePort workers',
    { skip: !REUSEPORT },
    async () => {
      const got = await spread(40);
      assert.equal(
        got.reduce((a, b) => a + b, 0),
        40,
        String(got),
      );
      // 40 source ports all hashed to one socket: a chance of 2^-39.
      assert.ok(
        got.every((n) => n > 0),
        String(got),
      );
    },
  );

  it('answers a write on every UDP query at once, the same as over TCP', async () => {
    for (let i = 0; i < 5; i++) {
      const domain = `w${i}.example.com`;
      const res = await api(run, 'POST', '/api/v1/domains', {
        domain,
        origins: [{ address: '203.0.113.10' }],
      });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      const base = `w${i}-example-com.${ZONE}`;
      const tcp = await dig(run.dnsPort, ['+tcp', base, 'A']);
      assert.equal(tcp.status, 'NOERROR');
      // Twenty UDP queries land on both workers: none may still answer NXDOMAIN.
      const udp = await Promise.all(
        Array.from({ length: 20 }, () => dig(run.dnsPort, ['+norec', base, 'A'])),
      );
      for (const u of udp) {
        assert.equal(u.status, 'NOERROR', u.raw);
        assert.deepEqual(u.answer, tcp.answer);
      }
    }
    const serial = run.cirrus.snapshots.current.serial;
    const soa = await dig(run.dnsPort, ['+short', ZONE, 'SOA']);
    assert.match(soa.raw, new RegExp(` ${serial} `));
  });

  it('forwards signed queries, IXFR and UPDATE over UDP to the main process', async () => {
    const signed = await dig(run.dnsPort, ['-y', KEY, ZONE, 'SOA']);
    assert.equal(signed.status, 'NOERROR');
    assert.match(signed.raw, /\tTSIG\t/); // signed reply, verified by dig
    assert.doesNotMatch(signed.raw, /Couldn't verify|failed/);

    const serial = run.cirrus.snapshots.current.serial;
    const ixfr = await dig(run.dnsPort, ['+notcp', '-y', KEY, ZONE, `IXFR=${serial}`]);
    assert.doesNotMatch(ixfr.raw, /Couldn't verify|failed/);
    // The client is current: the single SOA, signed.
    const records = ixfr.raw.split('\n').filter((l) => /\tIN\t/.test(l));
    assert.equal(records.length, 1, ixfr.raw);
    assert.match(records[0] as string, new RegExp(`\tSOA\t.* ${serial} `));
    assert.match(ixfr.raw, /\tTSIG\t/);

    const add = await nsupdate(
      ['-y', KEY],
      [
        `server 127.0.0.1 ${run.dnsPort}`,
        'check-names off',
        `zone ${ZONE}`,
        `update add ${OWNER} 60 TXT "over-udp"`,
        'send',
      ],
    );
    assert.equal(add.code, 0, add.output);
    // The UPDATE returns after its snapshot is live in every worker.
    const udp = await Promise.all(
      Array.from({ length: 10 }, () => dig(run.dnsPort, ['+short', OWNER, 'TXT'])),
    );
    for (const u of udp) assert.equal(u.raw.trim(), '"over-udp"');
  });

  it('forwards _health to the main process, which holds the health board', async () => {
    const base = `w0-example-com.${ZONE}`;
    // Over UDP (a worker) and TCP (the main process): the same lines. Probe type 'none' here:
    // the API's verdict, no votes.
    const udp = await Promise.all(
      Array.from({ length: 6 }, () => dig(run.dnsPort, ['+norec', `_health.${base}`, 'TXT'])),
    );
    const tcp = await dig(run.dnsPort, ['+tcp', `_health.${base}`, 'TXT']);
    assert.equal(tcp.answer.length, 7, tcp.raw);
    // A worker has no board: answered there, the header would say "no health checker".
    assert.match(tcp.answer[0] ?? '', /seen by (?!this instance)/);
    assert.match(
      tcp.answer[1] ?? '',
      /"2 edge-0 pool default v4\+v6; up since -; serving; votes none"/,
    );
    for (const u of udp) {
      assert.equal(u.status, 'NOERROR', u.raw);
      assert.deepEqual(u.answer, tcp.answer);
    }
  });

  it('sums the workers’ counters into /metrics', async () => {
    const read = async () =>
      metric(
        (await api(run, 'GET', '/metrics')).json as string,
        'cirrus_dns_queries_total',
        'transport="udp",qtype="MX",rcode="NOERROR"',
      );
    const before = await read();
    await Promise.all(Array.from({ length: 30 }, () => dig(run.dnsPort, [ZONE, 'MX'])));
    assert.equal((await read()) - before, 30);
    const text = (await api(run, 'GET', '/metrics')).json as string;
    assert.match(text, /^cirrus_dns_workers_ready 2$/m);
    // Process metrics are the main process's own, not added up.
    assert.equal(text.match(/^cirrus_process_start_time_seconds /gm)?.length, 1);
  });

  it('replaces a killed worker, which answers from the current snapshot', async () => {
    const [victim] = await workers();
    assert.ok(victim);
    process.kill(victim.pid, 'SIGKILL');
    // The other worker keeps answering meanwhile.
    for (let i = 0; i < 10; i++)
      assert.equal((await dig(run.dnsPort, ['+norec', ZONE, 'SOA'])).status, 'NOERROR');
    const replaced = await eventually('a ready replacement worker', 30000, async () => {
      const w = (await workers()).find((x) => x.index === victim.index);
      return w && w.ready && w.pid !== victim.pid ? w : undefined;
    });
    assert.equal(replaced.restarts, 1);
    assert.ok(!alive(victim.pid));
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: 'after.example.com',
      origins: [{ address: '203.0.113.10' }],
    });
    assert.equal(res.status, 201);
    const udp = await Promise.all(
      Array.from({ length: 20 }, () => dig(run.dnsPort, ['after-example-com.' + ZONE, 'A'])),
    );
    assert.ok(udp.every((u) => u.status === 'NOERROR'));
    const text = (await api(run, 'GET', '/metrics')).json as string;
    assert.match(text, /^cirrus_dns_worker_restarts_total 1$/m);
    // The replacement binds the same port as its sibling, in the same mode.
    assert.equal(replaced.udp, MODE);
    assert.equal(await udpSockets(run.dnsPort), REUSEPORT ? 2 : 1);
    if (REUSEPORT) assert.ok((await spread(40)).every((n) => n > 0));
  });

  it('stops every worker with the server', async () => {
    const pids = (await workers()).map((w) => w.pid);
    await run.stop();
    await eventually('the workers to exit', 10000, async () =>
      pids.every((p) => !alive(p)) ? true : undefined,
    );
  });
});
