// The realistic-traffic load generator (bench/loadgen/realgen.c), compiled with the real
// `cc` and run against a UDP server in this process that records every datagram: the
// stream it sends has the shape bench/README.md promises (sources, resolvers, ECS, cookies,
// type mix, no repeated tuple), and its JSON counts what the server saw and did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Seen {
  resolver: string;
  address: string;
  qname: string;
  qtype: number;
  ecs: string | undefined;
  cookie: string | undefined;
  /** The OPT record's DO bit (RFC 3225). */
  dnssec: boolean;
}

/** Question name, type and the OPT RR's ECS and COOKIE option bytes (RFC 6891 §6.1.2). */
function read(m: Buffer): Omit<Seen, 'resolver' | 'address'> {
  let o = 12;
  const labels: string[] = [];
  while (m[o]) {
    const len = m[o] as number;
    labels.push(m.subarray(o + 1, o + 1 + len).toString('latin1'));
    o += len + 1;
  }
  o += 1;
  const qtype = m.readUInt16BE(o);
  o += 4;
  assert.equal(m.readUInt16BE(10), 1, 'one additional record');
  assert.equal(m[o], 0, 'OPT owner is the root');
  assert.equal(m.readUInt16BE(o + 1), 41);
  const dnssec = ((m[o + 7] as number) & 0x80) !== 0;
  const rdlen = m.readUInt16BE(o + 9);
  o += 11;
  const end = o + rdlen;
  assert.equal(end, m.length, 'the OPT RR ends the message');
  let ecs: string | undefined;
  let cookie: string | undefined;
  while (o < end) {
    const code = m.readUInt16BE(o);
    const data = m.subarray(o + 4, o + 4 + m.readUInt16BE(o + 2));
    if (code === 8) ecs = data.toString('hex');
    if (code === 10) cookie = data.toString('hex');
    o += 4 + data.length;
  }
  return { qname: labels.join('.') + '.', qtype, ecs, cookie, dnssec };
}

test('realgen sends a resolver-shaped stream and counts replies, losses and NXDOMAIN', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'realgen-test-'));
  const seen: Seen[] = [];
  const server = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  try {
    const bin = join(dir, 'realgen');
    execFileSync('cc', ['-O2', '-o', bin, 'bench/loadgen/realgen.c']);
    const names = Array.from({ length: 500 }, (_, i) => `n${i}.bench.test.`);
    writeFileSync(join(dir, 'names.txt'), names.join('\n') + '\n');
    const known = new Set(names);
    let dropped = 0;
    let nx = 0;
    server.on('message', (m, r) => {
      const q = read(m);
      seen.push({ ...q, resolver: `${r.address}:${r.port}`, address: r.address });
      // Every 40th query goes unanswered: the generator must count exactly those as lost.
      if (seen.length % 40 === 0) {
        dropped++;
        return;
      }
      m[2] = (m[2] as number) | 0x84;
      if (!known.has(q.qname)) {
        m[3] = ((m[3] as number) & 0xf0) | 3;
        nx++;
      }
      server.send(m, r.port, r.address);
    });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const port = server.address().port;
    const child = spawn(bin, [
      ...['--port', String(port), '--names', join(dir, 'names.txt')],
      ...['--nx-zone', 'bench.test.', '--window', '20000', '--timeout-ms', '300', '--do', '10'],
      ...['--phases', 'paced:rate:4000:2', '--cpu-pids', String(process.pid)],
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    const result = JSON.parse(out) as {
      stream: { queries: number; distinctSubnets: number; ecsShare: number; doShare: number };
      phases: Array<{
        sent: number;
        answered: number;
        lost: number;
        nxdomain: number;
        noerror: number;
        p50Ms: number;
      }>;
    };
    const phase = result.phases[0];
    assert.ok(phase);
    assert.equal(result.stream.queries, 20000);

    // What it reports is what happened on the wire.
    assert.equal(phase.sent, seen.length);
    assert.ok(phase.sent >= 7000 && phase.sent <= 8100, `paced at 4,000 QPS: ${phase.sent}`);
    assert.equal(phase.lost, dropped);
    assert.equal(phase.answered, seen.length - dropped);
    assert.equal(phase.nxdomain, nx);
    assert.equal(phase.noerror + phase.nxdomain, phase.answered);
    assert.ok(phase.p50Ms >= 0 && phase.p50Ms < 300);

    // Sources: ≥ 256 loopback addresses, ≥ 1,000 resolvers (address, port).
    const addresses = new Set(seen.map((s) => s.address));
    const resolvers = new Set(seen.map((s) => s.resolver));
    assert.ok([...addresses].every((a) => a.startsWith('127.')));
    assert.ok(addresses.size >= 256, `${addresses.size} source addresses`);
    assert.ok(resolvers.size >= 1000, `${resolvers.size} resolvers`);

    // A resolver either always or never sends ECS, and always the same cookie or none.
    const byResolver = new Map<string, { ecs: boolean; cookie: string | undefined }>();
    for (const s of seen) {
      const prev = byResolver.get(s.resolver);
      if (!prev) byResolver.set(s.resolver, { ecs: s.ecs !== undefined, cookie: s.cookie });
      else {
        assert.equal(s.ecs !== undefined, prev.ecs, `ECS from ${s.resolver}`);
        assert.equal(s.cookie, prev.cookie, `cookie from ${s.resolver}`);
      }
    }
    const share = (n: number) => n / seen.length;
    const near = (x: number, want: number, tol: number, what: string) =>
      assert.ok(Math.abs(x - want) <= tol, `${what}: ${x.toFixed(3)}, want ${want}`);
    const ecs = seen.filter((s) => s.ecs !== undefined);
    near(share(ecs.length), 0.6, 0.04, 'ECS share');
    near(share(seen.filter((s) => s.cookie !== undefined).length), 0.5, 0.08, 'cookie share');
    // --do 10: the DO bit on a tenth of the queries, from every kind of resolver.
    near(share(seen.filter((s) => s.dnssec).length), 0.1, 0.02, 'DO share');
    near(result.stream.doShare, 0.1, 0.01, 'reported DO share');
    assert.ok(seen.some((s) => s.dnssec && s.ecs !== undefined));
    assert.ok(seen.some((s) => s.dnssec && s.ecs === undefined));
    for (const s of seen.filter((x) => x.cookie !== undefined)) assert.equal(s.cookie?.length, 16);
    // ECS: family 1 /24 with 3 address bytes, or family 2 /56 with 7 (RFC 7871 §6).
    const v4 = ecs.filter((s) => s.ecs?.startsWith('00011800'));
    const v6 = ecs.filter((s) => s.ecs?.startsWith('00023800'));
    assert.equal(v4.length + v6.length, ecs.length);
    assert.ok(v4.every((s) => s.ecs?.length === 14) && v6.every((s) => s.ecs?.length === 22));
    assert.ok(v4.length > v6.length && v6.length > 0);
    assert.ok(new Set(ecs.map((s) => s.ecs)).size > ecs.length * 0.8, 'subnets spread');

    // Types A 75 %, AAAA 20 %, NX 5 % (type A, a fresh label under the zone each time).
    const nxNames = seen.filter((s) => !known.has(s.qname));
    near(share(seen.filter((s) => s.qtype === 28).length), 0.2, 0.03, 'AAAA share');
    near(share(nxNames.length), 0.05, 0.015, 'NX share');
    assert.ok(nxNames.every((s) => s.qtype === 1 && /^[a-z0-9]{12}\.bench\.test\.$/.test(s.qname)));
    assert.equal(new Set(nxNames.map((s) => s.qname)).size, nxNames.length);

    // No (resolver, name, type, subnet) twice within the window.
    const tuples = seen
      .filter((s) => known.has(s.qname))
      .map((s) => `${s.resolver} ${s.qname} ${s.qtype} ${s.ecs ?? '-'}`);
    assert.equal(new Set(tuples).size, tuples.length);

    // Zipf: the most asked name gets far more than the 1/500 of a uniform draw.
    const counts = new Map<string, number>();
    for (const s of seen)
      if (known.has(s.qname)) counts.set(s.qname, (counts.get(s.qname) ?? 0) + 1);
    const top = Math.max(...counts.values());
    assert.ok(top > (tuples.length / names.length) * 10, `top name ${top} of ${tuples.length}`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
