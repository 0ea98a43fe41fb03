// What the listeners do with hostile or odd input: malformed UDP packets get FORMERR (or
// silence when they are not queries at all), seeded garbage and mutated queries never
// crash a stage or the socket, and TCP follows RFC 7766 (pipelining, split frames, idle
// timeout, many connections). After all of it the server still answers normally.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import {
  buildQuery,
  ecsOption,
  optRecord,
  parseReply,
  prng,
  TcpProbe,
  UdpProbe,
  wireName,
} from '../helpers/dns-probe.js';

const ZONE = 'cdn.example.net';
const EDGE_V4 = '198.51.100.10';
const IDLE_MS = 300;
const SENTINEL_ID = 0xffff;

/** Header with the given id, flags and counts (qd, an, ns, ar). */
function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + i * 2));
  return h;
}

/** Question section: name octets as given, then type A, class IN. */
function question(name: Buffer, qtype = 1): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([name, tail]);
}

function withArcount(q: Buffer, arcount: number, ...extra: Buffer[]): Buffer {
  const out = Buffer.concat([q, ...extra]);
  out.writeUInt16BE(arcount, 10);
  return out;
}

describe('DNS robustness', () => {
  let run: RunningCirrus;
  let base = '';
  let probe: UdpProbe;

  before(async () => {
    run = await startCirrus({ dns: { tcpIdleTimeoutMs: IDLE_MS } });
    probe = await UdpProbe.open();
    await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'edge-a', ipv4: EDGE_V4, pool: 'default', weight: 100, active: true },
    ]);
    const d = await api(run, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.5' }],
    });
    assert.equal(d.status, 201);
    base = d.json.cname;
  });

  after(async () => {
    await probe?.close();
    await run?.stop();
  });

  /**
   * Sends every packet, then a valid sentinel query; the server answers in arrival order,
   * so once the sentinel's reply is in, every reply the batch will ever get is in too.
   * Returns the replies (sentinel excluded) grouped by id.
   */
  async function batch(packets: readonly Buffer[]): Promise<Map<number, Buffer[]>> {
    const from = probe.received.length;
    for (const p of packets) probe.send(run.dnsPort, p);
    probe.send(run.dnsPort, buildQuery(base, { id: SENTINEL_ID }));
    const sentinel = await probe.waitFor(
      (m) => m.length >= 12 && m.readUInt16BE(0) === SENTINEL_ID && (m[2] as number) >= 0x80,
      5000,
      from,
    );
    assert.ok(sentinel, 'the server stopped answering');
    const end = probe.received.indexOf(sentinel);
    const byId = new Map<number, Buffer[]>();
    for (const m of probe.received.slice(from, end)) {
      const id = m.readUInt16BE(0);
      byId.set(id, [...(byId.get(id) ?? []), m]);
    }
    return byId;
  }

  async function internalErrors(): Promise<number> {
    const res = await fetch(`${run.apiUrl}/metrics`);
    const m = /^cirrus_dns_internal_errors_total (\d+)$/m.exec(await res.text());
    assert.ok(m, 'no internal-error counter in /metrics');
    return Number(m[1]);
  }

  async function assertStillServing(): Promise<void> {
    for (const transport of ['+notcp', '+tcp']) {
      const r = await dig(run.dnsPort, [transport, base, 'A']);
      assert.equal(r.status, 'NOERROR', transport);
      assert.ok(r.flags.includes('aa'));
      assert.deepEqual(r.answer, [`${base}. 60 IN A ${EDGE_V4}`], transport);
    }
  }

  describe('malformed UDP packets', () => {
    it('answers FORMERR with the same id, or stays silent for non-queries', async () => {
      const good = (id: number, edns?: Parameters<typeof optRecord>[0]) =>
        buildQuery(base, { id, ...(edns ? { edns } : {}) });
      const q = question(wireName(base));
      const ecs = (id: number, o: ReturnType<typeof ecsOption>) => good(id, { options: [o] });
      type Case = { name: string; packet: Buffer; reply: 'none' | 'formerr' | 'formerr+question' };
      const cases: Case[] = [
        { name: 'empty datagram', packet: Buffer.alloc(0), reply: 'none' },
        { name: '5 octets', packet: Buffer.from([0x00, 0x05, 0x01, 0x00, 0x00]), reply: 'none' },
        {
          name: '11 octets',
          packet: header(11, 0x0100, [1, 0, 0, 0]).subarray(0, 11),
          reply: 'none',
        },
        {
          name: 'QR set (a response)',
          packet: buildQuery(base, { id: 12, flags: 0x8100 }),
          reply: 'none',
        },
        {
          name: 'header only, QDCOUNT 0',
          packet: header(13, 0x0100, [0, 0, 0, 0]),
          reply: 'formerr',
        },
        {
          name: 'QDCOUNT 0 with a question',
          packet: Buffer.concat([header(14, 0x0100, [0, 0, 0, 0]), q]),
          reply: 'formerr',
        },
        {
          name: 'QDCOUNT 2',
          packet: Buffer.concat([header(15, 0x0100, [2, 0, 0, 0]), q, q]),
          reply: 'formerr',
        },
        {
          name: 'QDCOUNT 1 with no question',
          packet: header(16, 0x0100, [1, 0, 0, 0]),
          reply: 'formerr',
        },
        {
          name: 'truncated name',
          packet: Buffer.concat([
            header(17, 0x0100, [1, 0, 0, 0]),
            Buffer.from('\x03www\x07exa', 'latin1'),
          ]),
          reply: 'formerr',
        },
        {
          name: 'name without type and class',
          packet: Buffer.concat([
            header(18, 0x0100, [1, 0, 0, 0]),
            wireName(base),
            Buffer.from([0, 1]),
          ]),
          reply: 'formerr',
        },
        {
          name: 'label longer than 63 (0x40 length octet)',
          packet: Buffer.concat([
            header(19, 0x0100, [1, 0, 0, 0]),
            question(
              Buffer.concat([Buffer.from([0x40]), Buffer.alloc(64, 0x61), Buffer.from([0])]),
            ),
          ]),
          reply: 'formerr',
        },
        {
          name: 'name longer than 255 octets',
          packet: Buffer.concat([
            header(20, 0x0100, [1, 0, 0, 0]),
            question(
              Buffer.concat([
                ...Array.from({ length: 5 }, () =>
                  Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)]),
                ),
                Buffer.from([0]),
              ]),
            ),
          ]),
          reply: 'formerr',
        },
        {
          name: 'compression pointer in the question',
          packet: Buffer.concat([
            header(21, 0x0100, [1, 0, 0, 0]),
            question(Buffer.from([0xc0, 0x0c])),
          ]),
          reply: 'formerr',
        },
        {
          name: 'OPT option length past its record',
          packet: withArcount(
            buildQuery(base, { id: 22 }),
            1,
            Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 8, 0, 3, 0, 9, 1, 2, 3, 4]),
          ),
          reply: 'formerr+question',
        },
        {
          name: 'OPT with a truncated option header',
          packet: withArcount(
            buildQuery(base, { id: 23 }),
            1,
            Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 2, 0, 3]),
          ),
          reply: 'formerr+question',
        },
        {
          name: 'OPT rdata past the end of the message',
          packet: withArcount(
            buildQuery(base, { id: 24 }),
            1,
            Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 40]),
          ),
          reply: 'formerr+question',
        },
        {
          name: 'two OPT records',
          packet: withArcount(good(25, {}), 2, optRecord({})),
          reply: 'formerr+question',
        },
        {
          name: 'OPT not owned by the root',
          packet: withArcount(
            buildQuery(base, { id: 26 }),
            1,
            Buffer.from([1, 0x61, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]),
          ),
          reply: 'formerr+question',
        },
        {
          name: 'ARCOUNT 1 with no record',
          packet: withArcount(buildQuery(base, { id: 27 }), 1),
          reply: 'formerr+question',
        },
        {
          name: 'ECS scope prefix not 0',
          packet: ecs(28, ecsOption(1, 24, 24, Buffer.from([192, 0, 2]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS address longer than its prefix',
          packet: ecs(29, ecsOption(1, 24, 0, Buffer.from([192, 0, 2, 0]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS address shorter than its prefix',
          packet: ecs(30, ecsOption(1, 24, 0, Buffer.from([192, 0]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS family 3',
          packet: ecs(31, ecsOption(3, 24, 0, Buffer.from([192, 0, 2]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS IPv4 prefix longer than 32',
          packet: ecs(32, ecsOption(1, 33, 0, Buffer.from([192, 0, 2, 1, 0]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS address bits set beyond the prefix',
          packet: ecs(33, ecsOption(1, 23, 0, Buffer.from([192, 0, 3]))),
          reply: 'formerr+question',
        },
        {
          name: 'ECS shorter than 4 octets',
          packet: good(34, { options: [{ code: 8, data: Buffer.from([0, 1, 24]) }] }),
          reply: 'formerr+question',
        },
        {
          name: 'two ECS options',
          packet: good(35, {
            options: [
              ecsOption(1, 24, 0, Buffer.from([192, 0, 2])),
              ecsOption(1, 24, 0, Buffer.from([192, 0, 2])),
            ],
          }),
          reply: 'formerr+question',
        },
        {
          name: 'question type OPT',
          packet: buildQuery(base, { id: 36, qtype: 41 }),
          reply: 'formerr+question',
        },
        {
          name: 'question type TSIG',
          packet: buildQuery(base, { id: 37, qtype: 250 }),
          reply: 'formerr+question',
        },
      ];
      const replies = await batch(cases.map((c) => c.packet));
      let expected = 0;
      for (const c of cases) {
        const id = c.packet.length >= 2 ? c.packet.readUInt16BE(0) : -1;
        const got = replies.get(id) ?? [];
        if (c.reply === 'none') {
          assert.equal(got.length, 0, `${c.name}: expected silence`);
          continue;
        }
        expected++;
        assert.equal(got.length, 1, `${c.name}: expected one reply, got ${got.length}`);
        const r = parseReply(got[0] as Buffer);
        assert.ok(r.qr, c.name);
        assert.equal(r.rcode, 1, `${c.name}: rcode ${r.rcode}`);
        assert.equal(r.opcode, 0, c.name);
        assert.ok(r.rd, `${c.name}: RD is copied`);
        assert.deepEqual([r.answer.length, r.authority.length], [0, 0], c.name);
        if (c.reply === 'formerr+question') {
          assert.equal(r.qdcount, 1, c.name);
          assert.deepEqual(
            r.question,
            c.packet.subarray(12, 12 + q.length),
            `${c.name}: question echoed`,
          );
        }
      }
      const total = [...replies.values()].reduce((n, l) => n + l.length, 0);
      assert.equal(total, expected, 'no stray replies');
      assert.equal(await internalErrors(), 0);
      await assertStillServing();
    });

    it('survives thousands of seeded random packets', async () => {
      const rand = prng(0x5eed);
      const packets: Buffer[] = [];
      for (let i = 0; i < 3000; i++) {
        const len = rand() < 0.2 ? Math.floor(rand() * 16) : Math.floor(rand() * 600);
        const p = Buffer.alloc(len);
        for (let j = 0; j < len; j++) p[j] = Math.floor(rand() * 256);
        // The id is the packet's index, so a reply can be traced back to its packet.
        if (len >= 2) p.writeUInt16BE(i + 1, 0);
        packets.push(p);
      }
      let answered = 0;
      for (let from = 0; from < packets.length; from += 250) {
        const chunk = packets.slice(from, from + 250);
        const replies = await batch(chunk);
        const ids = new Set<number>();
        for (const p of chunk) {
          const id = p.length >= 2 ? p.readUInt16BE(0) : -1;
          const got = replies.get(id) ?? [];
          if (p.length < 12 || ((p[2] as number) & 0x80) !== 0) {
            assert.equal(got.length, 0, `packet ${id} (${p.toString('hex')}) must get no reply`);
            continue;
          }
          ids.add(id);
          assert.equal(got.length, 1, `packet ${id} (${p.toString('hex')}): ${got.length} replies`);
          const reply = parseReply(got[0] as Buffer);
          assert.ok(reply.qr);
          assert.equal(reply.opcode, ((p[2] as number) >> 3) & 0x0f);
          assert.notEqual(reply.rcode, 2, `packet ${id} (${p.toString('hex')}) hit SERVFAIL`);
          if (p.readUInt16BE(4) !== 1) {
            // RFC 1035 §4.1.1: an opcode we do not implement is NOTIMP whatever follows.
            const opcode = ((p[2] as number) >> 3) & 0x0f;
            const known = opcode === 0 || opcode === 4 || opcode === 5;
            assert.equal(
              reply.rcode,
              known ? 1 : 4,
              `packet ${id}: QDCOUNT ≠ 1 is ${known ? 'FORMERR' : 'NOTIMP (opcode ' + opcode + ')'}`,
            );
          }
          answered++;
        }
        for (const id of replies.keys()) assert.ok(ids.has(id), `stray reply with id ${id}`);
      }
      assert.ok(answered > 1000, `only ${answered} packets were queries`);
      assert.equal(await internalErrors(), 0);
      await assertStillServing();
    });

    it('survives thousands of seeded mutations of a valid EDNS query', async () => {
      const rand = prng(0xd15ea5e);
      const seed = buildQuery(base, {
        edns: {
          options: [
            ecsOption(1, 24, 0, Buffer.from([192, 0, 2])),
            { code: 3, data: Buffer.alloc(0) },
          ],
        },
      });
      const packets: Buffer[] = [];
      for (let i = 0; i < 3000; i++) {
        let p = Buffer.from(seed);
        const flips = 1 + Math.floor(rand() * 3);
        for (let f = 0; f < flips; f++)
          p[2 + Math.floor(rand() * (p.length - 2))] = Math.floor(rand() * 256);
        if (rand() < 0.25) p = p.subarray(0, 12 + Math.floor(rand() * (p.length - 12)));
        p.writeUInt16BE(i + 1, 0);
        p[2] = (p[2] as number) & 0x7f; // a query: every mutant must be answered
        packets.push(p);
      }
      const rcodes = new Map<number, number>();
      for (let from = 0; from < packets.length; from += 250) {
        const chunk = packets.slice(from, from + 250);
        const replies = await batch(chunk);
        for (const p of chunk) {
          const id = p.readUInt16BE(0);
          const got = replies.get(id) ?? [];
          assert.equal(got.length, 1, `mutant ${id} (${p.toString('hex')}): ${got.length} replies`);
          const reply = parseReply(got[0] as Buffer);
          assert.notEqual(reply.rcode, 2, `mutant ${id} (${p.toString('hex')}) hit SERVFAIL`);
          rcodes.set(reply.rcode, (rcodes.get(reply.rcode) ?? 0) + 1);
        }
      }
      // The mutants reach the pipeline, not only the decoder's FORMERR.
      assert.ok((rcodes.get(0) ?? 0) > 100, JSON.stringify([...rcodes]));
      assert.ok((rcodes.get(1) ?? 0) > 100, JSON.stringify([...rcodes]));
      assert.equal(await internalErrors(), 0);
      await assertStillServing();
    });
  });

  describe('TCP (RFC 7766)', () => {
    it('answers pipelined queries sent in one write, in order, with matching ids', async () => {
      const asks: Array<[number, string, number, number]> = [
        [101, base, 1, 0],
        [102, `nope.${ZONE}`, 1, 3],
        [103, base, 28, 0],
        [104, 'example.org', 1, 5],
        [105, ZONE, 6, 0],
        [106, base, 1, 0],
      ];
      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        await tcp.write(
          Buffer.concat(
            asks.map(([id, name, qtype]) => TcpProbe.frame(buildQuery(name, { id, qtype }))),
          ),
        );
        const frames = (await tcp.waitFrames(asks.length)).map(parseReply);
        assert.deepEqual(
          frames.map((r) => [r.id, r.rcode]),
          asks.map(([id, , , rcode]) => [id, rcode]),
        );
        assert.deepEqual([...(frames[0]?.answer[0]?.rdata ?? [])], EDGE_V4.split('.').map(Number));
        assert.equal(frames[4]?.answer[0]?.type, 6);
        assert.ok(!tcp.isClosed, 'the connection stays open for more queries');
      } finally {
        tcp.destroy();
      }
    });

    it('answers a query written one octet at a time', async () => {
      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        const framed = TcpProbe.frame(buildQuery(base, { id: 0x0b17 }));
        for (const byte of framed) {
          await tcp.write(Buffer.from([byte]));
          await new Promise((r) => setImmediate(r));
        }
        const [reply] = (await tcp.waitFrames(1)).map(parseReply);
        assert.equal(reply?.id, 0x0b17);
        assert.equal(reply?.rcode, 0);
        assert.equal(reply?.answer.length, 1);
      } finally {
        tcp.destroy();
      }
    });

    it('answers FORMERR and ignores non-queries on a connection, which stays usable', async () => {
      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        await tcp.write(
          Buffer.concat([
            TcpProbe.frame(Buffer.from([1, 2, 3, 4, 5])), // too short: no answer
            TcpProbe.frame(buildQuery(base, { id: 201, flags: 0x8000 })), // a response: no answer
            TcpProbe.frame(header(202, 0x0100, [0, 0, 0, 0])), // FORMERR
            TcpProbe.frame(buildQuery(base, { id: 203 })),
          ]),
        );
        const frames = (await tcp.waitFrames(2)).map(parseReply);
        assert.deepEqual(
          frames.map((r) => [r.id, r.rcode]),
          [
            [202, 1],
            [203, 0],
          ],
        );
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(tcp.frames.length, 2, 'no answer to the short message or the response');
      } finally {
        tcp.destroy();
      }
    });

    it('closes an idle connection after dns.tcpIdleTimeoutMs', async () => {
      const tcp = await TcpProbe.open(run.dnsPort);
      const t0 = Date.now();
      const closed = await Promise.race([
        tcp.closed.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 1500)),
      ]);
      tcp.destroy();
      const waited = Date.now() - t0;
      assert.ok(closed, 'an idle connection must be closed');
      assert.ok(waited >= IDLE_MS - 50, `closed after ${waited} ms, before the idle timeout`);
      assert.ok(waited < 1000, `closed only after ${waited} ms`);
    });

    it('keeps a connection open while queries keep coming, then closes it when idle', async () => {
      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        // Queries every ~150 ms for about three idle timeouts.
        for (let i = 0; i < 6; i++) {
          await tcp.write(TcpProbe.frame(buildQuery(base, { id: 300 + i })));
          await tcp.waitFrames(i + 1);
          assert.ok(!tcp.isClosed, `closed after ${i} queries`);
          await new Promise((r) => setTimeout(r, IDLE_MS / 2));
        }
        assert.deepEqual(
          tcp.frames.map((f) => f.readUInt16BE(0)),
          [300, 301, 302, 303, 304, 305],
        );
        const t0 = Date.now();
        await Promise.race([tcp.closed, new Promise((r) => setTimeout(r, 1500))]);
        assert.ok(tcp.isClosed, 'closed once the queries stop');
        assert.ok(Date.now() - t0 < 1000);
      } finally {
        tcp.destroy();
      }
    });

    it('closes the connection on a zero-length frame', async () => {
      const tcp = await TcpProbe.open(run.dnsPort);
      try {
        await tcp.write(Buffer.from([0, 0]));
        const t0 = Date.now();
        await Promise.race([tcp.closed, new Promise((r) => setTimeout(r, 1000))]);
        assert.ok(tcp.isClosed, 'still open after a zero-length frame');
        assert.ok(Date.now() - t0 < IDLE_MS, 'closed by the idle timeout, not by the empty frame');
      } finally {
        tcp.destroy();
      }
    });

    it('answers many concurrent connections', async () => {
      const conns = await Promise.all(
        Array.from({ length: 100 }, () => TcpProbe.open(run.dnsPort)),
      );
      try {
        await Promise.all(
          conns.map((c, i) =>
            c.write(
              Buffer.concat([
                TcpProbe.frame(buildQuery(base, { id: 1000 + i })),
                TcpProbe.frame(buildQuery(`nope${i}.${ZONE}`, { id: 2000 + i })),
              ]),
            ),
          ),
        );
        const replies = await Promise.all(conns.map((c) => c.waitFrames(2, 5000)));
        replies.forEach((frames, i) => {
          const [a, b] = frames.map(parseReply);
          assert.deepEqual([a?.id, a?.rcode, a?.answer.length], [1000 + i, 0, 1]);
          assert.deepEqual([b?.id, b?.rcode], [2000 + i, 3]);
        });
      } finally {
        for (const c of conns) c.destroy();
      }
      await assertStillServing();
    });
  });
});
