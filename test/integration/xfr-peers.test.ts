// The hidden master's peers: NOTIFY retried with backoff until acknowledged and coalesced
// to the newest serial; secondaries and TSIG keys managed through the API (config entries
// read-only, secrets never shown, bad input named by field); `cirrus nsd-config` accepted
// by nsd-checkconf; and the IXFR journal shared by two instances on one real Redis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, sleep } from '../helpers/wait.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { soaSerialIn } from '../../src/wire/transfer.js';
import { loadConfig } from '../../src/config/load.js';
import { nsdConfig } from '../../src/xfr/nsd-config.js';
import { Peers } from '../../src/xfr/peers.js';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const SECRET = randomBytes(32).toString('base64');

/** A UDP peer that records NOTIFYs and acknowledges them only once `answering` is set. */
class NotifySink {
  socket: Socket = createSocket('udp4');
  seen: number[] = [];
  answering = false;
  port = 0;

  async start(): Promise<void> {
    this.socket.on('message', (msg, rinfo) => {
      if (((msg[2] as number) >> 3) % 16 !== 4) return; // only NOTIFY
      this.seen.push(soaSerialIn(msg, 'answer') ?? -1);
      if (!this.answering) return;
      const reply = Buffer.from(msg);
      reply[2] = (reply[2] as number) | 0x80;
      this.socket.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
  }

  stop(): void {
    this.socket.close();
  }
}

describe('NOTIFY: retried with backoff until acknowledged, coalesced to the newest serial', () => {
  let cirrus: RunningCirrus;
  const sink = new NotifySink();

  before(async () => {
    await sink.start();
    cirrus = await startCirrus({
      xfr: {
        secondaries: [{ name: 'quiet', address: '127.0.0.1', port: sink.port }],
        notifyTimeoutMs: 100,
        notifyRetryMs: 50,
        notifyMaxRetryMs: 200,
        pollIntervalMs: 60000,
      },
    });
  });
  after(async () => {
    await cirrus?.stop();
    sink.stop();
  });

  it('keeps sending until the secondary answers, then reports it acknowledged', async () => {
    const first = await eventually('three unanswered NOTIFYs', 5000, async () =>
      sink.seen.length >= 3 ? sink.seen.length : undefined,
    );
    let status = (await api(cirrus, 'GET', '/api/v1/secondaries')).json.secondaries[0];
    assert.equal(status.lastNotify.ackedAt, null);
    assert.match(status.lastNotify.error, /no answer/);
    assert.ok(status.lastNotify.attempts >= 2);
    // Three changes while it is silent: it is then told about the newest serial only.
    for (const d of ['a.example.com', 'b.example.com', 'c.example.com'])
      await api(cirrus, 'POST', '/api/v1/domains', {
        domain: d,
        origins: [{ address: '192.0.2.1' }],
      });
    const serial = cirrus.cirrus.snapshots.current.serial;
    sink.answering = true;
    status = await eventually('the acknowledgement', 5000, async () => {
      const s = (await api(cirrus, 'GET', '/api/v1/secondaries')).json.secondaries[0];
      return s.lastNotify?.ackedAt ? s : undefined;
    });
    assert.equal(status.lastNotify.serial, serial);
    assert.ok(sink.seen.length > first);
    assert.equal(sink.seen.at(-1), serial);
    const count = sink.seen.length;
    await sleep(400);
    assert.equal(sink.seen.length, count, 'no NOTIFY after the acknowledgement');
  });
});

describe('secondaries and TSIG keys through the API', () => {
  let cirrus: RunningCirrus;
  const sink = new NotifySink();

  before(async () => {
    await sink.start();
    sink.answering = true;
    cirrus = await startCirrus({
      xfr: {
        keys: [{ name: 'cfg-key', secret: SECRET }],
        secondaries: [{ name: 'cfg-ns', address: '192.0.2.53', key: 'cfg-key', notify: false }],
        pollIntervalMs: 60000,
      },
    });
  });
  after(async () => {
    await cirrus?.stop();
    sink.stop();
  });

  it('adds a key and a secondary: it is NOTIFYed and may transfer with that key', async () => {
    const apiSecret = randomBytes(32).toString('base64');
    const key = await api(cirrus, 'PUT', '/api/v1/tsig-keys/api-key', {
      algorithm: 'hmac-sha512',
      secret: apiSecret,
    });
    assert.equal(key.status, 200, JSON.stringify(key.json));
    assert.deepEqual(key.json, { name: 'api-key', algorithm: 'hmac-sha512', source: 'api' });
    const before = await dig(cirrus.dnsPort, [
      '-y',
      `hmac-sha512:api-key:${apiSecret}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.match(before.raw, /Transfer failed/, 'no secondary at 127.0.0.1 yet');

    const sec = await api(cirrus, 'PUT', '/api/v1/secondaries/edge-ns', {
      address: '127.0.0.1',
      port: sink.port,
      key: 'api-key',
    });
    assert.equal(sec.status, 200, JSON.stringify(sec.json));
    const serial = cirrus.cirrus.snapshots.current.serial;
    await eventually('a NOTIFY for the current serial', 3000, async () =>
      sink.seen.includes(serial) ? true : undefined,
    );
    const ok = await dig(cirrus.dnsPort, [
      '-y',
      `hmac-sha512:api-key:${apiSecret}`,
      'cdn.example.net',
      'AXFR',
    ]);
    assert.match(ok.raw, /XFR size: \d+ records/);
    const list = (await api(cirrus, 'GET', '/api/v1/secondaries')).json;
    assert.deepEqual(
      list.secondaries.map((s: { name: string; source: string }) => [s.name, s.source]),
      [
        ['cfg-ns', 'config'],
        ['edge-ns', 'api'],
      ],
    );
    const edge = list.secondaries[1];
    assert.equal(edge.lastTransfer.kind, 'axfr');
    const keys = await api(cirrus, 'GET', '/api/v1/tsig-keys');
    assert.deepEqual(keys.json, [
      { name: 'cfg-key', algorithm: 'hmac-sha256', source: 'config' },
      { name: 'api-key', algorithm: 'hmac-sha512', source: 'api' },
    ]);
    // The secret is base64 ('+', '/'): looked for as text, not as a pattern.
    assert.ok(
      !(JSON.stringify(keys.json) + JSON.stringify(list)).includes(apiSecret.slice(0, 20)),
      'the API never shows a key secret',
    );
  });

  it('answers 4xx naming the field, and keeps config entries read-only', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['PUT', '/api/v1/secondaries/x', { address: 'ns.example.net' }, 400, 'body.address'],
      ['PUT', '/api/v1/secondaries/x', { address: '192.0.2.1', key: 'missing' }, 400, 'body.key'],
      ['PUT', '/api/v1/secondaries/x', { address: '192.0.2.1', port: 70000 }, 400, 'body.port'],
      ['PUT', '/api/v1/tsig-keys/k', { secret: 'short' }, 400, 'body.secret'],
      [
        'PUT',
        '/api/v1/tsig-keys/k',
        { secret: SECRET, algorithm: 'hmac-md5' },
        400,
        'body.algorithm',
      ],
      ['PUT', '/api/v1/secondaries/cfg-ns', { address: '192.0.2.1' }, 409, ''],
      ['DELETE', '/api/v1/tsig-keys/cfg-key', undefined, 409, ''],
      ['DELETE', '/api/v1/tsig-keys/api-key', undefined, 409, ''],
      ['DELETE', '/api/v1/secondaries/nope', undefined, 404, ''],
    ];
    for (const [method, path, body, status, field] of cases) {
      const r = await api(cirrus, method, path, body);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
      if (field) assert.equal(r.json.field, field, JSON.stringify(r.json));
      else assert.ok(r.json.message.length > 0);
    }
    assert.equal((await api(cirrus, 'DELETE', '/api/v1/secondaries/edge-ns')).status, 204);
    assert.equal((await api(cirrus, 'DELETE', '/api/v1/tsig-keys/api-key')).status, 204);
    const list = (await api(cirrus, 'GET', '/api/v1/secondaries')).json;
    assert.deepEqual(
      list.secondaries.map((s: { name: string }) => s.name),
      ['cfg-ns'],
    );
  });
});

describe('cirrus nsd-config', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-nsdconf-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a configuration nsd-checkconf accepts, with the key, request-xfr and allow-notify', async () => {
    const file = join(dir, 'cirrus.yaml');
    writeFileSync(
      file,
      [
        'zone: { name: cdn.example.net }',
        "dns: { listen: ['192.0.2.10:53'] }",
        'store: { file: null }',
        'seed: { dir: null }',
        'xfr:',
        `  keys: [{ name: xfr-key, algorithm: hmac-sha256, secret: "${SECRET}" }]`,
        '  secondaries: [{ name: ns2, address: 198.51.100.53, key: xfr-key }]',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'nsd-config', '--config', file],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'warn' },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, err);
    assert.match(out, /request-xfr: 192\.0\.2\.10@53 xfr-key/);
    assert.match(out, /allow-notify: 192\.0\.2\.10 xfr-key/);
    assert.match(out, new RegExp(`secret: "${SECRET.replace(/[+/]/g, '\\$&')}"`));
    assert.match(out, /name: "cdn\.example\.net"/);
    const conf = join(dir, 'nsd.conf');
    writeFileSync(conf, out);
    const checkconf = process.env.PATH?.includes('/usr/sbin')
      ? 'nsd-checkconf'
      : '/usr/sbin/nsd-checkconf';
    await run(checkconf, [conf]);
  });
});

describe('the docker-compose stack', () => {
  it("NSD's deploy config is what nsd-config prints for Cirrus's deploy config, and nsd-checkconf accepts it", async () => {
    const config = loadConfig({ file: join(REPO, 'deploy/cirrus/cirrus.yaml'), env: {} });
    const printed = nsdConfig(config, new Peers(config.xfr, null), {
      secondary: 'nsd',
      master: '172.28.0.10@53',
    });
    const deployed = readFileSync(join(REPO, 'deploy/nsd/nsd.conf'), 'utf8');
    const tail = (text: string) => text.slice(text.indexOf('key:')).replace(/^[ \t]+/gm, '');
    assert.equal(tail(deployed).trim(), tail(printed).trim());
    const compose = parseYaml(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'));
    assert.equal(compose.services.cirrus.networks.default.ipv4_address, '172.28.0.10');
    assert.equal(
      compose.services.nsd.networks.default.ipv4_address,
      config.xfr.secondaries[0]?.address,
    );
    const checkconf = process.env.PATH?.includes('/usr/sbin')
      ? 'nsd-checkconf'
      : '/usr/sbin/nsd-checkconf';
    await run(checkconf, [join(REPO, 'deploy/nsd/nsd.conf')]);
  });
});

describe('two instances on one Redis share the IXFR journal', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;
  const KEY = `hmac-sha256:xfr-key:${SECRET}`;

  before(async () => {
    redis = await startRedis();
    const xfr = {
      keys: [{ name: 'xfr-key', secret: SECRET }],
      allow: [{ cidr: '127.0.0.1', key: 'xfr-key' }],
    };
    a = await startCirrus({ store: { redisUrl: redis.url }, xfr });
    b = await startCirrus({ store: { redisUrl: redis.url }, xfr });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('a change made through one instance is an incremental IXFR from the other', async () => {
    const before = a.cirrus.snapshots.current.serial;
    const res = await api(a, 'POST', '/api/v1/domains', {
      domain: 'shared.example.com',
      origins: [{ address: '203.0.113.5' }],
    });
    assert.equal(res.status, 201);
    const after = a.cirrus.snapshots.current.serial;
    await eventually('instance b to serve the new serial', 3000, async () =>
      b.cirrus.snapshots.current.serial === after ? true : undefined,
    );
    const ixfr = await eventually('an incremental IXFR from b', 3000, async () => {
      const r = await dig(b.dnsPort, ['-y', KEY, 'cdn.example.net', `IXFR=${before}`]);
      const size = /XFR size: (\d+) records/.exec(r.raw);
      return size && Number(size[1]) <= 6 ? r : undefined;
    });
    assert.match(
      ixfr.raw,
      /shared-example-com\.cdn\.example\.net\.\s+\d+\s+IN\s+A\s+203\.0\.113\.5/,
    );
  });
});
