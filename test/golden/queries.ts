// The query set of the wire-output golden test: a few thousand packets built by hand (RFC
// 1035 §4, RFC 6891, RFC 7871), valid and broken, each with a stable case name. A seeded
// generator makes the set identical on every run; the recorded file holds each query too,
// so a change here is caught as a changed query rather than as a changed answer.
import { baseName, DOMAIN_NAMES, ZONE } from './state.js';

export type Transport = 'udp' | 'tcp';

export interface GoldenCase {
  /** `category/detail`, unique in the set. */
  name: string;
  transport: Transport;
  query: Buffer;
}

/** Message ID the exchange reserves for its sentinel query: no case uses it. */
export const SENTINEL_ID = 0xffff;

const T = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  NULL: 10,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  NAPTR: 35,
  DS: 43,
  RRSIG: 46,
  DNSKEY: 48,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  TKEY: 249,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  CAA: 257,
  OPT: 41,
} as const;
const C = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

interface Opt {
  udp?: number;
  version?: number;
  do?: boolean;
  /** Extended RCODE bits and the flag bits below DO, raw. */
  ttlExtra?: number;
  options?: Array<{ code: number; data: Buffer }>;
  /** Owner name of the OPT record; the root unless a test breaks it. */
  owner?: Buffer;
}

interface Msg {
  flags?: number;
  questions?: Array<{ name: string | Buffer; type: number; cls?: number }>;
  opts?: Opt[];
  /** Overrides the counts written in the header (malformed cases). */
  counts?: [number?, number?, number?, number?];
  /** Raw records appended after the question (answer/authority sections). */
  records?: Buffer;
  trailing?: Buffer;
}

export function nameWire(name: string): Buffer {
  const labels = name.split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])),
    Buffer.from([0]),
  ]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

function optRecord(o: Opt): Buffer {
  const data = Buffer.concat(
    (o.options ?? []).map((x) => Buffer.concat([u16(x.code), u16(x.data.length), x.data])),
  );
  const rr = Buffer.alloc(10);
  rr.writeUInt16BE(T.OPT, 0);
  rr.writeUInt16BE(o.udp ?? 1232, 2);
  rr.writeUInt32BE(
    ((((o.version ?? 0) & 0xff) << 16) | (o.do ? 0x8000 : 0) | (o.ttlExtra ?? 0)) >>> 0,
    4,
  );
  rr.writeUInt16BE(data.length, 8);
  return Buffer.concat([o.owner ?? Buffer.from([0]), rr, data]);
}

export function message(id: number, m: Msg): Buffer {
  const qs = m.questions ?? [];
  const opts = m.opts ?? [];
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(m.flags ?? 0x0000, 2);
  h.writeUInt16BE(m.counts?.[0] ?? qs.length, 4);
  h.writeUInt16BE(m.counts?.[1] ?? 0, 6);
  h.writeUInt16BE(m.counts?.[2] ?? 0, 8);
  h.writeUInt16BE(m.counts?.[3] ?? opts.length, 10);
  const parts: Buffer[] = [h];
  for (const q of qs) {
    parts.push(typeof q.name === 'string' ? nameWire(q.name) : q.name, u16(q.type));
    parts.push(u16(q.cls ?? C.IN));
  }
  if (m.records) parts.push(m.records);
  for (const o of opts) parts.push(optRecord(o));
  if (m.trailing) parts.push(m.trailing);
  return Buffer.concat(parts);
}

/** RFC 7871 §6 option with the address cut to ceil(source/8) bytes and masked. */
export function ecs(address: string, source: number, scope = 0): { code: number; data: Buffer } {
  const v6 = address.includes(':');
  const full = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  const n = Math.ceil(source / 8);
  const addr = Buffer.from(full.subarray(0, n));
  if (source % 8 && n > 0) addr[n - 1] = (addr[n - 1] as number) & (0xff << (8 - (source % 8)));
  return {
    code: 8,
    data: Buffer.concat([u16(v6 ? 2 : 1), Buffer.from([source, scope]), addr]),
  };
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => u16(parseInt(g, 16))));
}

/** mulberry32: a tiny seeded PRNG, so "random" variety is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NSID = { code: 3, data: Buffer.alloc(0) };

/** EDNS shapes every plain question is asked with. */
const SHAPES: Array<[string, Opt[] | undefined]> = [
  ['noedns', undefined],
  ['edns512', [{ udp: 512 }]],
  ['edns1232', [{ udp: 1232 }]],
  ['edns4096-do', [{ udp: 4096, do: true }]],
  ['edns1232-nsid', [{ udp: 1232, options: [NSID] }]],
];

export function goldenCases(): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const names = new Set<string>();
  let nextId = 1;
  const id = (): number => {
    const v = nextId;
    nextId = nextId >= 0xfffe ? 1 : nextId + 1;
    return v;
  };
  const add = (name: string, query: Buffer, transport: Transport = 'udp'): void => {
    if (names.has(name)) throw new Error(`duplicate golden case ${name}`);
    names.add(name);
    cases.push({ name, transport, query });
  };
  const ask = (
    cat: string,
    qname: string | Buffer,
    type: number,
    opts?: Opt[],
    extra: Partial<Msg> & { cls?: number } = {},
    transport: Transport = 'udp',
    tag = '',
  ): void => {
    const q = message(id(), {
      flags: 0x0100,
      questions: [{ name: qname, type, cls: extra.cls ?? C.IN }],
      ...(opts ? { opts } : {}),
      ...extra,
    });
    const label = typeof qname === 'string' ? qname : `raw:${qname.toString('hex')}`;
    add(`${cat}/${label}/${type}/c${extra.cls ?? C.IN}${tag}/${transport}`, q, transport);
  };
  const rnd = prng(0x601de5);
  const pick = <V>(xs: readonly V[]): V => xs[Math.floor(rnd() * xs.length)] as V;

  const bases = DOMAIN_NAMES.map(baseName);
  const statics = [
    'status',
    'www',
    'edge',
    'shop-alias',
    'chain1',
    'external',
    '_dmarc',
    '_sip._tcp',
    'ptr',
    'sub',
    'deep.sub',
    'x.wild',
    'a.b.wild',
    'wild',
    'opaque',
    'big',
    'many',
    'mail',
    'ns1',
  ].map((s) => `${s}.${ZONE}`);
  const acme = [
    `_acme-challenge.www.example.com.acme.${ZONE}`,
    `d420c923-bbd7-4056-ab64-c3ca54c9b3cf.acme.${ZONE}`,
    `_acme-challenge.unknown.example.com.acme.${ZONE}`,
    `acme.${ZONE}`,
  ];

  // 1. Base names: every type of interest in every EDNS shape.
  const baseTypes = [T.A, T.AAAA, T.ANY, T.MX, T.TXT, T.SOA, T.NS, T.CNAME, T.HTTPS, T.CAA];
  for (const b of bases)
    for (const t of baseTypes)
      for (const [tag, opts] of SHAPES) ask('base', b, t, opts, {}, 'udp', `/${tag}`);

  // 2. Static records, the apex and acme TXT in every shape.
  const staticTypes = [T.A, T.AAAA, T.ANY, T.TXT, T.CNAME, T.MX, T.SRV, T.PTR, T.NS, T.SOA, 65534];
  for (const s of statics)
    for (const t of staticTypes)
      for (const [tag, opts] of SHAPES.slice(0, 3)) ask('static', s, t, opts, {}, 'udp', `/${tag}`);
  const apexTypes = [
    T.SOA,
    T.NS,
    T.ANY,
    T.TXT,
    T.CAA,
    T.MX,
    T.A,
    T.AAAA,
    T.DNSKEY,
    T.DS,
    T.RRSIG,
    T.NULL,
    T.SPF,
  ];
  for (const t of apexTypes)
    for (const [tag, opts] of SHAPES) ask('apex', ZONE, t, opts, {}, 'udp', `/${tag}`);
  for (const a of acme)
    for (const t of [T.TXT, T.A, T.ANY])
      for (const [tag, opts] of SHAPES.slice(0, 3)) ask('acme', a, t, opts, {}, 'udp', `/${tag}`);

  // 3. ECS: a table over the fixture networks and prefixes, then seeded random subnets.
  const subnets: Array<[string, number]> = [
    ['198.51.100.0', 24],
    ['198.51.100.77', 32],
    ['198.51.100.0', 16],
    ['203.0.113.0', 24],
    ['203.0.113.128', 25],
    ['192.0.2.0', 24],
    ['192.0.2.0', 26],
    ['192.0.2.128', 25],
    ['100.64.7.0', 24],
    ['100.64.0.0', 10],
    ['10.20.0.0', 16],
    ['10.1.2.0', 24],
    ['10.1.0.0', 15],
    ['8.8.8.0', 24],
    ['0.0.0.0', 0],
    ['255.255.255.255', 32],
    ['2001:db8:de::', 48],
    ['2001:db8:de::', 56],
    ['2001:db8:4b::', 64],
    ['2001:db8:b2::', 40],
    ['2001:db8:77::', 48],
    ['2001:db8:77:1::', 128],
    ['2a00:1450::', 32],
    ['::', 0],
    ['::ffff:198.51.100.1', 128],
  ];
  for (const b of bases.slice(0, 6))
    for (const [addr, src] of subnets)
      for (const t of [T.A, T.AAAA])
        ask(
          'ecs-table',
          b,
          t,
          [{ udp: 1232, options: [ecs(addr, src)] }],
          {},
          'udp',
          `/${addr}/${src}`,
        );
  const v4nets = [
    '198.51.100',
    '203.0.113',
    '192.0.2',
    '100.64',
    '100.100',
    '10.1',
    '10.200',
    '172.16',
    '8.8',
  ];
  const v6nets = [
    '2001:db8:de',
    '2001:db8:4b',
    '2001:db8:b2',
    '2001:db8:77',
    '2001:db8:9',
    '2a00:1450',
    'fd00',
  ];
  for (let i = 0; i < 900; i++) {
    const v6 = rnd() < 0.35;
    let addr: string;
    let src: number;
    if (v6) {
      const net = pick(v6nets);
      addr = `${net}:${Math.floor(rnd() * 0xffff).toString(16)}::${Math.floor(rnd() * 0xffff).toString(16)}`;
      if (net.split(':').length >= 3 && net.startsWith('2001'))
        addr = `${net}:${Math.floor(rnd() * 0xffff).toString(16)}::1`;
      src = pick([0, 16, 32, 40, 47, 48, 49, 56, 64, 96, 128]);
    } else {
      const net = pick(v4nets).split('.');
      while (net.length < 4) net.push(String(Math.floor(rnd() * 256)));
      addr = net.join('.');
      src = pick([0, 8, 10, 12, 16, 20, 23, 24, 25, 26, 28, 31, 32]);
    }
    const b = pick([...bases, `_explain.${pick(bases)}`, `whoami.${ZONE}`, `edge.${ZONE}`]);
    const t =
      b.startsWith('_explain') || b.startsWith('whoami')
        ? T.TXT
        : pick([T.A, T.AAAA, T.A, T.AAAA, T.ANY]);
    const shape: Opt = { udp: pick([512, 1232, 4096]), do: rnd() < 0.2, options: [ecs(addr, src)] };
    if (rnd() < 0.15) shape.options = [NSID, ...(shape.options ?? [])];
    ask('ecs-random', b, t, [shape], {}, 'udp', `/${i}/${addr}/${src}`);
  }

  // 4. Mixed-case question names: the answer must echo the case asked (RFC 4343).
  for (let i = 0; i < 200; i++) {
    const base = pick([...bases, ...statics, ZONE, `whoami.${ZONE}`]);
    const mixed = [...base].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c)).join('');
    ask(
      'case',
      mixed,
      pick([T.A, T.AAAA, T.TXT, T.ANY, T.SOA]),
      pick(SHAPES)[1],
      {},
      'udp',
      `/${i}`,
    );
  }

  // 5. Names that do not exist under the zone, and names outside every zone.
  const nx = [
    `nope.${ZONE}`,
    `a.b.c.${ZONE}`,
    `x.${bases[0]}`,
    `x.status.${ZONE}`,
    `_explain.nope.${ZONE}`,
    `_explain.${ZONE}`,
    `wwwexample-com.${ZONE}`,
    `www-example-com-.${ZONE}`,
    `x.acme.${ZONE}`,
    `-.${ZONE}`,
    `\\.${ZONE}`,
  ];
  for (let i = 0; i < 20; i++)
    nx.push(`${Math.floor(rnd() * 1e9).toString(36)}.${pick(['', 'deep.', 'a.b.'])}${ZONE}`);
  for (const n of nx)
    for (const t of [T.A, T.AAAA, T.TXT])
      for (const [tag, opts] of SHAPES.slice(0, 2))
        ask('nxdomain', n, t, opts, {}, 'udp', `/${tag}`);
  const outside = [
    'example.com',
    'www.example.com',
    'example.net',
    'net',
    '',
    'cdn.example.net.evil',
    'xcdn.example.net',
    'example.org',
    'acme.example.com',
    'version.bind',
    'whoami.example.com',
  ];
  for (const n of outside)
    for (const t of [T.A, T.SOA, T.NS, T.ANY])
      for (const [tag, opts] of SHAPES.slice(0, 2))
        ask('refused', n, t, opts, {}, 'udp', `/${tag}`);

  // 6. CHAOS names, in CH and in IN.
  const chaosNames = [
    'version.bind',
    'version.server',
    'id.server',
    'hostname.bind',
    'authors.bind',
    'other.bind',
    'VERSION.BIND',
    'Id.Server',
  ];
  for (const n of chaosNames)
    for (const t of [T.TXT, T.A, T.ANY])
      for (const cls of [C.CH, C.IN])
        for (const [tag, opts] of SHAPES.slice(0, 3))
          ask('chaos', n, t, opts, { cls }, 'udp', `/${tag}`);

  // 7. Debug names: whoami and _explain, with and without ECS, over both transports.
  const debugShapes: Array<[string, Opt[] | undefined]> = [
    ...SHAPES,
    ['ecs-de', [{ udp: 1232, options: [ecs('198.51.100.0', 24)] }]],
    ['ecs-hk6', [{ udp: 4096, options: [ecs('2001:db8:4b::', 56)] }]],
    ['ecs-zero', [{ udp: 1232, options: [ecs('0.0.0.0', 0)] }]],
  ];
  for (const n of [`whoami.${ZONE}`, ...bases.map((b) => `_explain.${b}`)])
    for (const t of [T.TXT, T.A, T.ANY])
      for (const [tag, opts] of debugShapes)
        for (const tr of ['udp', 'tcp'] as const) ask('debug', n, t, opts, {}, tr, `/${tag}`);

  // 8. EDNS edge cases (RFC 6891): versions, sizes, options, several OPTs, odd owners.
  const ednsCases: Array<[string, Opt[], Partial<Msg>?]> = [
    ['version1', [{ version: 1 }]],
    ['version255-do', [{ version: 255, do: true }]],
    ['version1-nsid', [{ version: 1, options: [NSID] }]],
    ['udp0', [{ udp: 0 }]],
    ['udp100', [{ udp: 100 }]],
    ['udp511', [{ udp: 511 }]],
    ['udp513', [{ udp: 513 }]],
    ['udp65535', [{ udp: 65535 }]],
    ['nsid-with-data', [{ options: [{ code: 3, data: Buffer.from('ab') }] }]],
    ['nsid-twice', [{ options: [NSID, NSID] }]],
    ['unknown-option', [{ options: [{ code: 65001, data: Buffer.from('xyz') }] }]],
    ['cookie-client', [{ options: [{ code: 10, data: Buffer.from('0123456789abcdef', 'hex') }] }]],
    ['padding', [{ options: [{ code: 12, data: Buffer.alloc(64) }] }]],
    ['ede-in-query', [{ options: [{ code: 15, data: Buffer.from([0, 1]) }] }]],
    ['z-flags', [{ ttlExtra: 0x7fff }]],
    ['extended-rcode', [{ ttlExtra: 0x01000000 }]],
    ['two-opts', [{ udp: 1232 }, { udp: 4096 }]],
    ['opt-owner-not-root', [{ owner: nameWire('x') }]],
    ['option-truncated', [{ options: [] }], { trailing: Buffer.from([0, 8, 0]) }],
  ];
  for (const [tag, opts, extra] of ednsCases)
    for (const n of [bases[0] as string, `big.${ZONE}`, ZONE])
      ask('edns', n, T.A, opts, extra ?? {}, 'udp', `/${tag}`);
  // An option whose length runs past the OPT RDATA.
  const overrun = message(id(), {
    flags: 0x0100,
    questions: [{ name: bases[0] as string, type: T.A }],
    opts: [{ options: [{ code: 3, data: Buffer.alloc(0) }] }],
  });
  overrun.writeUInt16BE(9, overrun.length - 2);
  add('edns/option-length-overrun/udp', overrun);

  // 9. Malformed ECS (RFC 7871 §7.1.1: FORMERR).
  const badEcs: Array<[string, Buffer]> = [
    ['family3', Buffer.from([0, 3, 24, 0, 1, 2, 3])],
    ['family0', Buffer.from([0, 0, 0, 0])],
    ['v4-source33', Buffer.from([0, 1, 33, 0, 1, 2, 3, 4, 5])],
    ['v6-source129', Buffer.concat([Buffer.from([0, 2, 129, 0]), Buffer.alloc(17)])],
    ['scope-nonzero', Buffer.from([0, 1, 24, 24, 198, 51, 100])],
    ['address-too-long', Buffer.from([0, 1, 16, 0, 198, 51, 100])],
    ['address-too-short', Buffer.from([0, 1, 24, 0, 198, 51])],
    ['bits-beyond-prefix', Buffer.from([0, 1, 20, 0, 198, 51, 0xff])],
    ['zero-with-address', Buffer.from([0, 1, 0, 0, 1])],
    ['short-option', Buffer.from([0, 1, 24])],
    ['empty-option', Buffer.alloc(0)],
    ['v6-zero-bytes', Buffer.from([0, 2, 0, 0])],
    ['v4-zero-bytes', Buffer.from([0, 1, 0, 0])],
  ];
  for (const [tag, data] of badEcs)
    for (const n of [bases[0] as string, `whoami.${ZONE}`])
      ask('ecs-malformed', n, T.A, [{ options: [{ code: 8, data }] }], {}, 'udp', `/${tag}`);
  ask(
    'ecs-malformed',
    bases[0] as string,
    T.A,
    [{ options: [ecs('198.51.100.0', 24), ecs('203.0.113.0', 24)] }],
    {},
    'udp',
    '/two-ecs',
  );

  // 10. Opcodes and header flags.
  for (let op = 1; op < 16; op++)
    for (const n of [bases[0] as string, ZONE]) {
      ask(
        'opcode',
        n,
        op === 4 ? T.SOA : T.A,
        op % 2 ? [{}] : undefined,
        { flags: (op << 11) | 0x0100 },
        'udp',
        `/op${op}`,
      );
    }
  const flagCases: Array<[string, number]> = [
    ['rd0', 0x0000],
    ['cd', 0x0110],
    ['ad', 0x0120],
    ['z-bit', 0x0140],
    ['aa-tc-set', 0x0700],
    ['rcode-set', 0x0105],
    ['qr-set', 0x8100],
  ];
  for (const [tag, flags] of flagCases)
    for (const n of [bases[0] as string, `status.${ZONE}`])
      ask('flags', n, T.A, undefined, { flags }, 'udp', `/${tag}`);

  // 11. Header-only messages, QDCOUNT 2, records where a query has none.
  const headerOnly: Array<[string, Buffer]> = [
    ['plain', message(id(), { flags: 0x0100 })],
    ['opt-only', message(id(), { flags: 0x0100, opts: [{}] })],
    ['notify-empty', message(id(), { flags: 0x2000 })],
    ['qr-empty', message(id(), { flags: 0x8000 })],
  ];
  for (const [tag, q] of headerOnly) {
    add(`header-only/${tag}/udp`, q);
    add(`header-only/${tag}/tcp`, q, 'tcp');
  }
  const two = (a: string, b: string, opts?: Opt[]): Buffer =>
    message(id(), {
      flags: 0x0100,
      questions: [
        { name: a, type: T.A },
        { name: b, type: T.AAAA },
      ],
      ...(opts ? { opts } : {}),
    });
  add('qdcount2/same/udp', two(bases[0] as string, bases[0] as string));
  add('qdcount2/different/udp', two(bases[0] as string, `status.${ZONE}`));
  add('qdcount2/edns/udp', two(ZONE, ZONE, [{}]));
  add('qdcount2/different/tcp', two(bases[1] as string, `status.${ZONE}`), 'tcp');
  const aRecord = Buffer.concat([
    nameWire(`x.${ZONE}`),
    u16(T.A),
    u16(1),
    Buffer.from([0, 0, 0, 60]),
    u16(4),
    Buffer.from([1, 2, 3, 4]),
  ]);
  add(
    'sections/answer-in-query/udp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: bases[0] as string, type: T.A }],
      records: aRecord,
      counts: [1, 1],
    }),
  );
  add(
    'sections/authority-in-query/udp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: bases[0] as string, type: T.A }],
      records: aRecord,
      counts: [1, 0, 1],
    }),
  );
  add(
    'sections/additional-a-record/udp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: bases[0] as string, type: T.A }],
      records: aRecord,
      counts: [1, 0, 0, 1],
    }),
  );

  // 12. Meta and unusual types and classes.
  for (const t of [
    0,
    T.OPT,
    T.TKEY,
    T.TSIG,
    T.MAILA,
    T.MAILB,
    T.IXFR,
    T.AXFR,
    T.NAPTR,
    T.SVCB,
    65535,
    32769,
  ])
    for (const n of [bases[0] as string, ZONE]) ask('types', n, t, [{}], {}, 'udp');
  for (const cls of [C.HS, C.NONE, C.ANY, 0, 2, 42])
    for (const n of [bases[0] as string, ZONE, 'version.bind'])
      ask('classes', n, T.A, undefined, { cls }, 'udp');
  for (const tr of ['udp', 'tcp'] as const) {
    ask('xfr', ZONE, T.AXFR, undefined, {}, tr);
    ask('xfr', ZONE, T.IXFR, [{}], {}, tr);
    ask('xfr', bases[0] as string, T.AXFR, undefined, {}, tr);
  }

  // 13. Truncation (RFC 1035 §4.2.1, RFC 6891 §7): big answers at small sizes; TCP is whole.
  const bigNames = [
    `big.${ZONE}`,
    `many.${ZONE}`,
    ZONE,
    bases[3] as string,
    bases[1] as string,
    `_explain.${bases[0]}`,
  ];
  for (const n of bigNames)
    for (const t of [T.TXT, T.A, T.ANY])
      for (const [tag, opts] of [
        ['noedns', undefined],
        ['512', [{ udp: 512 }]],
        ['700', [{ udp: 700 }]],
        ['1232', [{ udp: 1232 }]],
        ['1232-do-nsid', [{ udp: 1232, do: true, options: [NSID] }]],
        ['4096', [{ udp: 4096 }]],
      ] as Array<[string, Opt[] | undefined]>)
        for (const tr of ['udp', 'tcp'] as const) ask('tc', n, t, opts, {}, tr, `/${tag}`);

  // 14. Names at the edges of the wire format.
  const label63 = 'a'.repeat(63);
  const long = `${label63}.${label63}.${label63}.${'b'.repeat(45)}.${ZONE}`;
  ask('names', `${label63}.${ZONE}`, T.A, [{}]);
  ask('names', long.slice(long.length - 253), T.A, [{}]);
  ask(
    'names',
    Buffer.concat([Buffer.from([3, 0x77, 0x00, 0x77]), nameWire(ZONE)]),
    T.A,
    [{}],
    {},
    'udp',
    '/nul-in-label',
  );
  ask(
    'names',
    Buffer.concat([Buffer.from([3, 0x77, 0xff, 0x2e]), nameWire(ZONE)]),
    T.A,
    [{}],
    {},
    'udp',
    '/binary-label',
  );
  ask(
    'names',
    Buffer.concat([Buffer.from([4, 0x41, 0x2e, 0x42, 0x20]), nameWire(ZONE)]),
    T.A,
    [{}],
    {},
    'udp',
    '/dot-in-label',
  );

  // 15. Malformed packets: cut short, garbage, compression in the question, bad counts.
  // Responses (or their absence) are recorded exactly like the others.
  const valid = message(0x4242, {
    flags: 0x0100,
    questions: [{ name: bases[0] as string, type: T.A }],
    opts: [{ options: [ecs('198.51.100.0', 24), NSID] }],
  });
  for (let len = 0; len < valid.length; len += len < 14 ? 1 : 3)
    add(`malformed/cut-${len}/udp`, valid.subarray(0, len));
  for (let i = 0; i < 60; i++) {
    const len = 2 + Math.floor(rnd() * 60);
    const junk = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
    if (junk[0] === 0xff && junk[1] === 0xff) junk[0] = 0;
    add(`malformed/junk-${i}/udp`, junk);
  }
  for (let i = 0; i < 40; i++) {
    // A valid query with one byte flipped after the header.
    const q = Buffer.from(valid);
    const at = 12 + Math.floor(rnd() * (q.length - 12));
    q[at] = (q[at] as number) ^ (1 << Math.floor(rnd() * 8));
    add(`malformed/flip-${i}-${at}/udp`, q);
  }
  const raw = (cat: string, name: Buffer, tr: Transport = 'udp'): void => {
    add(
      `malformed/${cat}/${tr}`,
      Buffer.concat([message(id(), { flags: 0x0100, counts: [1] }), name, u16(T.A), u16(C.IN)]),
      tr,
    );
  };
  raw('pointer-to-self', Buffer.from([0xc0, 12]));
  raw('pointer-forward', Buffer.from([0xc0, 40]));
  raw(
    'pointer-in-question',
    Buffer.concat([Buffer.from([3, 0x77, 0x77, 0x77]), Buffer.from([0xc0, 12])]),
  );
  raw('label-type-01', Buffer.from([0x41, 0x61, 0]));
  raw('label-type-10', Buffer.from([0x81, 0x61, 0]));
  raw('label-64', Buffer.concat([Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0])]));
  raw(
    'name-256',
    Buffer.concat([
      ...Array.from({ length: 4 }, () =>
        Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]),
      ),
      Buffer.from([0]),
    ]),
  );
  raw('no-root', Buffer.from([3, 0x77, 0x77, 0x77]));
  raw('pointer-to-self', Buffer.from([0xc0, 12]), 'tcp');
  raw(
    'name-256',
    Buffer.concat([
      ...Array.from({ length: 4 }, () =>
        Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]),
      ),
      Buffer.from([0]),
    ]),
    'tcp',
  );
  add(
    'malformed/qdcount-too-high/udp',
    message(id(), { flags: 0x0100, questions: [{ name: ZONE, type: T.SOA }], counts: [3] }),
  );
  add(
    'malformed/arcount-too-high/udp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: ZONE, type: T.SOA }],
      counts: [1, 0, 0, 2],
    }),
  );
  add(
    'malformed/ancount-no-records/udp',
    message(id(), { flags: 0x0100, questions: [{ name: ZONE, type: T.SOA }], counts: [1, 5] }),
  );
  add(
    'malformed/trailing-bytes/udp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: ZONE, type: T.SOA }],
      trailing: Buffer.from('garbage'),
    }),
  );
  add(
    'malformed/question-cut/udp',
    message(id(), { flags: 0x0100, questions: [{ name: ZONE, type: T.SOA }] }).subarray(
      0,
      12 + 17 + 2,
    ),
  );
  add(
    'malformed/trailing-bytes/tcp',
    message(id(), {
      flags: 0x0100,
      questions: [{ name: ZONE, type: T.SOA }],
      trailing: Buffer.from('garbage'),
    }),
    'tcp',
  );

  // 16. A TCP replay of a seeded sample of everything above that is not TCP yet.
  const udpOnly = cases.filter(
    (c) => c.transport === 'udp' && !c.name.startsWith('malformed/cut-'),
  );
  for (let i = 0; i < 400; i++) {
    const c = pick(udpOnly);
    const name = `tcp-replay/${c.name}`;
    if (!names.has(name)) add(name, c.query, 'tcp');
  }
  for (const c of cases)
    if (c.query.length >= 2 && c.query.readUInt16BE(0) === SENTINEL_ID && c.query.length >= 12)
      throw new Error(`case ${c.name} uses the sentinel id`);
  return cases;
}
