// The serving path end to end: a real server on loopback, asked by the real `dig` and
// `kdig`, and by hand-built packets where the exact octets matter (0x20 case, opcodes).
// One server holds a small zone that exercises every branch of the lookup: GSLB base
// names, static records, CNAME chains, wildcards, a delegation, large RRsets for TC.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { buildQuery, parseReply, TcpProbe, UdpProbe } from '../helpers/dns-probe.js';

const ZONE = 'cdn.example.net';
const EDGE_V4 = '198.51.100.10';
const EDGE_V6 = '2001:db8::10';
const DOMAIN_TTL = 30;
/** SOA TTL below SOA MINIMUM: the negative TTL must be the smaller one (RFC 2308 §5). */
const SOA_TTL = 120;
const SOA_MINIMUM = 300;

/** A TXT RRset of `strings` character-strings of 200 octets: 201 octets of rdata each. */
function bigTxt(tag: string, strings: number): string {
  return Array.from(
    { length: strings },
    (_, i) => `"${tag}${String(i).padStart(2, '0')}${'x'.repeat(196)}"`,
  ).join(' ');
}

describe('DNS answers seen by dig and kdig', () => {
  let run: RunningCirrus;
  let base = '';
  let serial = 0;
  const q = (args: string[]) => dig(run.dnsPort, args);
  let probe: UdpProbe;

  before(async () => {
    run = await startCirrus({
      zone: {
        name: ZONE,
        soa: { ttl: SOA_TTL, minimum: SOA_MINIMUM },
        ns: [
          { name: `ns1.${ZONE}`, ipv4: ['192.0.2.201'], ipv6: ['2001:db8::201'] },
          { name: 'ns2.example.org', ipv4: [], ipv6: [] },
        ],
      },
      dns: { nsid: 'cirrus-test-1', chaos: { version: 'Cirrus test', identity: 'edge-7' } },
    });
    probe = await UdpProbe.open();
    const nodes = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'edge-a', ipv4: EDGE_V4, ipv6: EDGE_V6, pool: 'default', weight: 100, active: true },
      // Inactive: must never be answered, whatever its rendezvous rank.
      { id: 'edge-b', ipv4: '198.51.100.20', pool: 'default', weight: 100, active: false },
    ]);
    assert.equal(nodes.status, 200);
    const domain = await api(run, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.5' }],
      ttl: DOMAIN_TTL,
    });
    assert.equal(domain.status, 201);
    base = domain.json.cname;
    const label = base.slice(0, -(ZONE.length + 1));
    const zone = [
      'status 300 IN A 192.0.2.1',
      'www CNAME status',
      `edge CNAME ${label}`,
      'multi A 192.0.2.10',
      'multi TXT "multi"',
      'multi MX 10 mail',
      'mail A 192.0.2.25',
      '*.wild A 192.0.2.77',
      '*.wild TXT "wild"',
      'exists.wild AAAA 2001:db8::77',
      'sub NS ns.sub',
      'ns.sub A 192.0.2.53',
      // ~800 octets: over 512, under our 1232; ~2000 octets: over 1232.
      `medium TXT ${bigTxt('m', 4)}`,
      `big TXT ${bigTxt('b', 10)}`,
      '',
    ].join('\n');
    const put = await api(run, 'PUT', '/api/v1/zone/records', zone);
    assert.equal(put.status, 200, JSON.stringify(put.json));
    serial = put.json.serial;
  });

  after(async () => {
    await probe?.close();
    await run?.stop();
  });

  describe('GSLB base names', () => {
    it('answers A and AAAA with the active edge, AA set, the domain TTL', async () => {
      const a = await q([base, 'A']);
      assert.equal(a.status, 'NOERROR');
      assert.ok(a.flags.includes('aa'), a.raw);
      assert.deepEqual(a.answer, [`${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`]);
      const aaaa = await q([base, 'AAAA']);
      assert.equal(aaaa.status, 'NOERROR');
      assert.ok(aaaa.flags.includes('aa'));
      assert.deepEqual(aaaa.answer, [`${base}. ${DOMAIN_TTL} IN AAAA ${EDGE_V6}`]);
    });

    it('copies RD from the query and never sets RA', async () => {
      const rec = await q([base, 'A']);
      assert.ok(rec.flags.includes('rd'));
      assert.ok(!rec.flags.includes('ra'));
      const norec = await q(['+norec', base, 'A']);
      assert.equal(norec.status, 'NOERROR');
      assert.ok(!norec.flags.includes('rd'), norec.raw);
      assert.ok(!norec.flags.includes('ra'));
      assert.equal(norec.answer.length, 1);
    });

    it('echoes a 0x20 mixed-case question octet for octet and still matches it', async () => {
      const mixed = base
        .split('')
        .map((c, i) => (i % 2 ? c.toUpperCase() : c))
        .join('');
      assert.notEqual(mixed, base);
      const query = buildQuery(mixed, { id: 0x2020, qtype: 1 });
      const wire = await probe.exchange(run.dnsPort, query);
      assert.ok(wire, 'no reply');
      const reply = parseReply(wire);
      assert.equal(reply.id, 0x2020);
      assert.ok(reply.aa);
      assert.deepEqual(reply.question, query.subarray(12));
      assert.equal(reply.answer.length, 1);
      assert.equal(reply.answer[0]?.name, base);
      assert.deepEqual([...(reply.answer[0]?.rdata ?? [])], EDGE_V4.split('.').map(Number));

      // dig shows the question as it was sent, too.
      const shown = await q(['+norec', mixed, 'A']);
      assert.match(
        shown.raw,
        new RegExp(`;; QUESTION SECTION:\\n;${mixed.replace(/\./g, '\\.')}\\.\\s+IN\\s+A`),
      );
      assert.equal(shown.answer.length, 1);
    });

    it('matches static names case-insensitively', async () => {
      const r = await q(['STATUS.CDN.Example.NET', 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(
        r.answer.map((l) => l.toLowerCase()),
        [`status.${ZONE}. 300 in a 192.0.2.1`],
      );
    });

    it('answers NODATA with the SOA for a type a base name does not have', async () => {
      const r = await q([base, 'MX']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('aa'));
      assert.deepEqual(r.answer, []);
      assert.equal(r.authority.length, 1);
      assert.match(r.authority[0] as string, new RegExp(`^${ZONE}\\. ${SOA_TTL} IN SOA `));
    });

    it('answers NXDOMAIN below a base name (the base name has no wildcard)', async () => {
      const r = await q([`deeper.${base}`, 'A']);
      assert.equal(r.status, 'NXDOMAIN');
      assert.equal(r.authority.length, 1);
    });
  });

  describe('the static zone', () => {
    it('answers NXDOMAIN with the SOA at TTL min(SOA TTL, MINIMUM)', async () => {
      const r = await q([`nope.${ZONE}`, 'A']);
      assert.equal(r.status, 'NXDOMAIN');
      assert.ok(r.flags.includes('aa'));
      assert.deepEqual(r.answer, []);
      assert.deepEqual(r.authority, [
        `${ZONE}. ${SOA_TTL} IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 1209600 ${SOA_MINIMUM}`,
      ]);
    });

    it('answers NODATA with the SOA for a missing type and for an empty non-terminal', async () => {
      for (const [name, type] of [
        [`status.${ZONE}`, 'TXT'],
        [`wild.${ZONE}`, 'A'],
      ] as const) {
        const r = await q([name, type]);
        assert.equal(r.status, 'NOERROR', `${name} ${type}`);
        assert.ok(r.flags.includes('aa'));
        assert.deepEqual(r.answer, [], `${name} ${type}`);
        assert.equal(r.authority.length, 1);
        assert.match(r.authority[0] as string, new RegExp(`^${ZONE}\\. ${SOA_TTL} IN SOA `));
      }
    });

    it('refuses names outside the zone without AA, including a look-alike suffix', async () => {
      for (const name of ['example.org', `x${ZONE}`, 'net']) {
        const r = await q([name, 'A']);
        assert.equal(r.status, 'REFUSED', name);
        assert.ok(!r.flags.includes('aa'), name);
        assert.deepEqual(r.answer, []);
        assert.deepEqual(r.authority, []);
      }
    });

    it('answers SOA and NS at the apex, with glue for the in-zone name server only', async () => {
      const soa = await q([ZONE, 'SOA']);
      assert.equal(soa.status, 'NOERROR');
      assert.ok(soa.flags.includes('aa'));
      assert.deepEqual(soa.answer, [
        `${ZONE}. ${SOA_TTL} IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 1209600 ${SOA_MINIMUM}`,
      ]);
      const ns = await q([ZONE, 'NS']);
      assert.equal(ns.status, 'NOERROR');
      assert.ok(ns.flags.includes('aa'));
      assert.deepEqual(ns.answer.sort(), [
        `${ZONE}. 3600 IN NS ns1.${ZONE}.`,
        `${ZONE}. 3600 IN NS ns2.example.org.`,
      ]);
      assert.deepEqual(ns.additional.sort(), [
        `ns1.${ZONE}. 3600 IN A 192.0.2.201`,
        `ns1.${ZONE}. 3600 IN AAAA 2001:db8::201`,
      ]);
    });

    it('follows an in-zone CNAME to a static name', async () => {
      const r = await q([`www.${ZONE}`, 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('aa'));
      assert.deepEqual(r.answer, [
        `www.${ZONE}. 3600 IN CNAME status.${ZONE}.`,
        `status.${ZONE}. 300 IN A 192.0.2.1`,
      ]);
    });

    it('follows a static CNAME into a base name and appends the edge answer', async () => {
      const a = await q([`edge.${ZONE}`, 'A']);
      assert.equal(a.status, 'NOERROR');
      assert.deepEqual(a.answer, [
        `edge.${ZONE}. 3600 IN CNAME ${base}.`,
        `${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`,
      ]);
      const aaaa = await q([`edge.${ZONE}`, 'AAAA']);
      assert.deepEqual(aaaa.answer, [
        `edge.${ZONE}. 3600 IN CNAME ${base}.`,
        `${base}. ${DOMAIN_TTL} IN AAAA ${EDGE_V6}`,
      ]);
      // A type the base name lacks: the chain, then NODATA's SOA.
      const mx = await q([`edge.${ZONE}`, 'MX']);
      assert.equal(mx.status, 'NOERROR');
      assert.deepEqual(mx.answer, [`edge.${ZONE}. 3600 IN CNAME ${base}.`]);
      assert.equal(mx.authority.length, 1);
    });

    it('synthesises wildcard answers, but not for a name that exists', async () => {
      const a = await q([`anything.wild.${ZONE}`, 'A']);
      assert.equal(a.status, 'NOERROR');
      assert.ok(a.flags.includes('aa'));
      assert.deepEqual(a.answer, [`anything.wild.${ZONE}. 3600 IN A 192.0.2.77`]);
      const deep = await q([`two.labels.wild.${ZONE}`, 'TXT']);
      assert.deepEqual(deep.answer, [`two.labels.wild.${ZONE}. 3600 IN TXT "wild"`]);
      const exists = await q([`exists.wild.${ZONE}`, 'A']);
      assert.equal(exists.status, 'NOERROR');
      assert.deepEqual(exists.answer, [], 'an existing name blocks the wildcard (RFC 4592 §3.3.1)');
      assert.equal(exists.authority.length, 1);
    });

    it('returns a referral below a delegation: AA clear, NS in authority, glue', async () => {
      for (const name of [`host.sub.${ZONE}`, `sub.${ZONE}`, `ns.sub.${ZONE}`]) {
        const r = await q([name, 'A']);
        assert.equal(r.status, 'NOERROR', name);
        assert.ok(!r.flags.includes('aa'), `${name}: ${r.raw}`);
        assert.deepEqual(r.answer, [], name);
        assert.deepEqual(r.authority, [`sub.${ZONE}. 3600 IN NS ns.sub.${ZONE}.`], name);
        assert.deepEqual(r.additional, [`ns.sub.${ZONE}. 3600 IN A 192.0.2.53`], name);
      }
    });

    it('answers minimal ANY over UDP (RFC 8482) and everything over TCP', async () => {
      const udp = await q(['+notcp', `multi.${ZONE}`, 'ANY']);
      assert.equal(udp.status, 'NOERROR');
      assert.match(udp.raw, /\(UDP\)/);
      const udpTypes = new Set(udp.answer.map((l) => l.split(' ')[3]));
      assert.equal(udp.answer.length, 1, udp.raw);
      assert.equal(udpTypes.size, 1);
      const tcp = await q(['+tcp', `multi.${ZONE}`, 'ANY']);
      assert.deepEqual(
        new Set(tcp.answer.map((l) => l.split(' ')[3])),
        new Set(['A', 'TXT', 'MX']),
      );

      const baseUdp = await q(['+notcp', base, 'ANY']);
      assert.deepEqual(baseUdp.answer, [`${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`]);
      const baseTcp = await q(['+tcp', base, 'ANY']);
      assert.deepEqual(baseTcp.answer.sort(), [
        `${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`,
        `${base}. ${DOMAIN_TTL} IN AAAA ${EDGE_V6}`,
      ]);
    });
  });

  describe('EDNS', () => {
    it('answers with an OPT advertising our own UDP size, version 0', async () => {
      const r = await q(['+bufsize=4096', base, 'A']);
      assert.ok(r.edns, r.raw);
      assert.match(r.edns, /version: 0,/);
      assert.match(r.edns, /udp: 1232$/);
    });

    it('answers without OPT when the query has none', async () => {
      const r = await q(['+noedns', base, 'A']);
      assert.equal(r.status, 'NOERROR');
      assert.equal(r.edns, undefined);
      assert.match(r.raw, /ADDITIONAL: 0\b/);
    });

    it('answers BADVERS to EDNS version 1, with a version 0 OPT', async () => {
      const r = await q(['+edns=1', '+noednsneg', base, 'A']);
      assert.equal(r.status, 'BADVERS');
      assert.deepEqual(r.answer, []);
      assert.match(r.edns ?? '', /version: 0,/);
    });

    it('returns the configured NSID when asked, and only then', async () => {
      const asked = await q(['+nsid', base, 'A']);
      assert.match(asked.raw, /; NSID: .*\("cirrus-test-1"\)/);
      const notAsked = await q([base, 'A']);
      assert.doesNotMatch(notAsked.raw, /NSID/);
    });

    it('echoes ECS with scope 0 for IPv4 and IPv6 subnets', async () => {
      const v4 = await q(['+subnet=192.0.2.0/24', base, 'A']);
      assert.equal(v4.status, 'NOERROR');
      assert.match(v4.raw, /; CLIENT-SUBNET: 192\.0\.2\.0\/24\/0\n/);
      assert.deepEqual(v4.answer, [`${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`]);
      const v6 = await q(['+subnet=2001:db8:1200::/40', base, 'AAAA']);
      assert.match(v6.raw, /; CLIENT-SUBNET: 2001:db8:1200::\/40\/0\n/);
      const negative = await q(['+subnet=192.0.2.0/24', `nope.${ZONE}`, 'A']);
      assert.equal(negative.status, 'NXDOMAIN');
      assert.match(negative.raw, /; CLIENT-SUBNET: 192\.0\.2\.0\/24\/0\n/);
    });
  });

  describe('truncation', () => {
    it('sets TC over UDP without EDNS when the answer passes 512 octets, and TCP carries it', async () => {
      const udp = await q(['+noedns', '+ignore', `medium.${ZONE}`, 'TXT']);
      assert.equal(udp.status, 'NOERROR');
      assert.ok(udp.flags.includes('tc'), udp.raw);
      assert.deepEqual(udp.answer, []);
      assert.match(udp.raw, /MSG SIZE {2}rcvd: (\d+)/);
      assert.ok(Number(/MSG SIZE {2}rcvd: (\d+)/.exec(udp.raw)?.[1]) <= 512);

      const tcp = await q(['+noedns', '+tcp', `medium.${ZONE}`, 'TXT']);
      assert.ok(!tcp.flags.includes('tc'));
      assert.equal(tcp.answer.length, 1);
      assert.equal((tcp.answer[0]?.match(/"m\d\dx+"/g) ?? []).length, 4);
    });

    it('fits the same answer over UDP with a 4096-octet EDNS buffer', async () => {
      const r = await q(['+bufsize=4096', '+ignore', `medium.${ZONE}`, 'TXT']);
      assert.ok(!r.flags.includes('tc'), r.raw);
      assert.match(r.raw, /\(UDP\)/);
      assert.equal((r.answer[0]?.match(/"m\d\dx+"/g) ?? []).length, 4);
    });

    it('caps UDP answers at our own 1232 octets even when the client offers more', async () => {
      const udp = await q(['+bufsize=4096', '+ignore', `big.${ZONE}`, 'TXT']);
      assert.ok(udp.flags.includes('tc'), udp.raw);
      assert.deepEqual(udp.answer, []);
      const tcp = await q(['+tcp', `big.${ZONE}`, 'TXT']);
      assert.ok(!tcp.flags.includes('tc'));
      assert.equal((tcp.answer[0]?.match(/"b\d\dx+"/g) ?? []).length, 10);
    });

    it('retries over TCP by itself when dig sees TC', async () => {
      const r = await q(['+noedns', `medium.${ZONE}`, 'TXT']);
      assert.match(r.raw, /Truncated, retrying in TCP mode/);
      assert.match(r.raw, /\(TCP\)/);
      assert.equal(r.answer.length, 1);
    });
  });

  describe('CHAOS, opcodes and transfers', () => {
    it('answers version.bind, version.server, id.server and hostname.bind in CHAOS', async () => {
      const cases: Array<[string, string]> = [
        ['version.bind', 'Cirrus test'],
        ['version.server', 'Cirrus test'],
        ['id.server', 'edge-7'],
        ['hostname.bind', 'edge-7'],
      ];
      for (const [name, text] of cases) {
        const r = await q([name, 'TXT', 'CH']);
        assert.equal(r.status, 'NOERROR', name);
        assert.deepEqual(r.answer, [`${name}. 0 CH TXT "${text}"`]);
      }
      const other = await q(['authors.bind', 'TXT', 'CH']);
      assert.equal(other.status, 'REFUSED');
    });

    it('answers kdig over TCP and UDP', async () => {
      const tcp = await dig(run.dnsPort, ['+tcp', base, 'A'], 'kdig');
      assert.equal(tcp.status, 'NOERROR');
      assert.ok(tcp.flags.includes('aa'), tcp.raw);
      assert.match(tcp.raw, /\(TCP\)/);
      assert.deepEqual(tcp.answer, [`${base}. ${DOMAIN_TTL} IN A ${EDGE_V4}`]);
      const udp = await dig(
        run.dnsPort,
        ['+nsid', '+subnet=192.0.2.0/24', `www.${ZONE}`, 'A'],
        'kdig',
      );
      assert.equal(udp.status, 'NOERROR');
      assert.match(udp.edns ?? '', /UDP size: 1232 B/);
      assert.match(udp.raw, /NSID: .*"cirrus-test-1"/);
      assert.match(udp.raw, /CLIENT-SUBNET: 192\.0\.2\.0\/24\/0/);
      assert.equal(udp.answer.length, 2);
    });

    it('answers NOTIMP to opcodes other than QUERY, echoing opcode and id', async () => {
      const status = await q(['+opcode=status', ZONE, 'SOA']);
      assert.equal(status.status, 'NOTIMP');
      assert.match(status.raw, /opcode: STATUS/);
      for (const [opcode, id] of [
        [2, 0x0202],
        [4, 0x0404],
        [5, 0x0505],
        [15, 0x0f0f],
      ] as const) {
        const wire = await probe.exchange(run.dnsPort, buildQuery(ZONE, { id, opcode, qtype: 6 }));
        assert.ok(wire, `opcode ${opcode}: no reply`);
        const reply = parseReply(wire);
        assert.equal(reply.id, id);
        assert.ok(reply.qr);
        assert.equal(reply.opcode, opcode);
        assert.equal(reply.rcode, 4, `opcode ${opcode}`);
        assert.deepEqual(reply.answer, []);
      }
    });

    it('refuses AXFR and IXFR over TCP to a client not allowed to transfer', async () => {
      const axfr = await q([ZONE, 'AXFR']);
      assert.match(axfr.raw, /Transfer failed/);
      const kaxfr = await dig(run.dnsPort, ['+tcp', ZONE, 'AXFR'], 'kdig').then(
        () => '',
        (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
      );
      assert.match(kaxfr, /server replied with error 'REFUSED'/);

      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        await tcp.write(TcpProbe.frame(buildQuery(ZONE, { id: 252, qtype: 252 })));
        await tcp.write(TcpProbe.frame(buildQuery(ZONE, { id: 251, qtype: 251 })));
        const [a, i] = (await tcp.waitFrames(2)).map(parseReply);
        assert.deepEqual([a?.id, a?.rcode, a?.answer.length], [252, 5, 0]);
        assert.deepEqual([i?.id, i?.rcode], [251, 5]);
      } finally {
        tcp.destroy();
      }
    });

    it('answers FORMERR to AXFR over UDP (RFC 5936 §4.2: TCP only)', async () => {
      const wire = await probe.exchange(run.dnsPort, buildQuery(ZONE, { id: 0x0afe, qtype: 252 }));
      assert.ok(wire);
      assert.equal(parseReply(wire).rcode, 1);
    });
  });
});

describe('DNS without NSID and with version.bind disabled', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { nsid: '', chaos: { version: null, identity: 'edge-9' } } });
  });
  after(async () => {
    await run?.stop();
  });

  it('sends no NSID option even when asked', async () => {
    const r = await dig(run.dnsPort, ['+nsid', 'cdn.example.net', 'SOA']);
    assert.equal(r.status, 'NOERROR');
    assert.ok(r.edns);
    assert.doesNotMatch(r.raw, /NSID/);
  });

  it('refuses version.bind when the version is null, still answers id.server', async () => {
    const v = await dig(run.dnsPort, ['version.bind', 'TXT', 'CH']);
    assert.equal(v.status, 'REFUSED');
    assert.deepEqual(v.answer, []);
    const id = await dig(run.dnsPort, ['id.server', 'TXT', 'CH']);
    assert.deepEqual(id.answer, ['id.server. 0 CH TXT "edge-9"']);
  });
});
