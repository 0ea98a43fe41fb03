// PROXY protocol v2 on the DNS listeners, with Knot's `kdig +proxy` (knot-dnsutils 3.2) over
// UDP and TCP: from an allowed source the header's client address decides the location, the
// debug ACL and whoami; from any other source a datagram with a header gets no answer and a
// connection with one is closed, while plain queries from there are answered.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { api, startCirrus, testUdpPath, type RunningCirrus } from '../helpers/cirrus.js';
import { buildProxyV2 } from '../../src/wire/proxy-v2.js';

const ZONES = fileURLToPath(new URL('../../zones', import.meta.url));
const BASE = 'static-example-org.cdn.example.net';

/** kdig's output and exit status; asynchronous, as the server answers from this process. */
async function kdig(port: number, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)('kdig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+time=1',
      '+retry=0',
      ...args,
    ]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, out: e.stdout ?? '' };
  }
}

describe('PROXY protocol v2 (kdig +proxy)', () => {
  let trusted: RunningCirrus;
  let untrusted: RunningCirrus;
  before(async () => {
    const common = { seed: { dir: ZONES }, geo: {}, debug: { allow: ['193.0.6.0/24'] } };
    [trusted, untrusted] = await Promise.all([
      startCirrus({ ...common, dns: { proxyProtocol: { allow: ['127.0.0.0/8'] } } }),
      startCirrus({ ...common, dns: { proxyProtocol: { allow: ['10.0.0.0/8'] } } }),
    ]);
  });
  after(async () => {
    await trusted?.stop();
    await untrusted?.stop();
  });

  it('answers UDP on the path under test (/healthz udpPath, cirrus_dns_udp_path)', async () => {
    const health = await api(trusted, 'GET', '/healthz');
    assert.equal(health.json.udpPath, testUdpPath());
    const text = (await api(trusted, 'GET', '/metrics')).json as string;
    assert.match(text, new RegExp(`^cirrus_dns_udp_path\\{path="${testUdpPath()}"\\} 1$`, 'm'));
  });

  for (const transport of ['+notcp', '+tcp']) {
    it(`${transport}: the proxied client decides the pool, the ACL and whoami`, async () => {
      const nl = '+proxy=193.0.6.139#4242-127.0.0.1#53';
      const us = '+proxy=8.8.8.8#4243-127.0.0.1#53';
      // No ECS: the client address is the location. NL → fra, US → iad.
      const a = await kdig(trusted.dnsPort, [transport, nl, BASE, 'A', '+short']);
      assert.equal(a.out.trim(), '192.0.2.11');
      const b = await kdig(trusted.dnsPort, [transport, us, BASE, 'A', '+short']);
      assert.equal(b.out.trim(), '192.0.2.31');
      // debug.allow lists 193.0.6.0/24 only: the proxied NL client may ask whoami...
      const who = await kdig(trusted.dnsPort, [
        transport,
        nl,
        'whoami.cdn.example.net',
        'TXT',
        '+short',
      ]);
      const proto = transport === '+tcp' ? 'tcp' : 'udp';
      assert.match(who.out, new RegExp(`"1 resolver 193\\.0\\.6\\.139 port 4242 over ${proto}"`));
      assert.match(who.out, /country NL; continent EU/);
      // ...the US one and the balancer itself may not.
      const refused = await kdig(trusted.dnsPort, [transport, us, 'whoami.cdn.example.net', 'TXT']);
      assert.match(refused.out, /status: REFUSED/);
      const direct = await kdig(trusted.dnsPort, [transport, 'whoami.cdn.example.net', 'TXT']);
      assert.match(direct.out, /status: REFUSED/);
    });

    it(`${transport}: a header from a source not allowed gets no answer`, async () => {
      const res = await kdig(untrusted.dnsPort, [
        transport,
        '+proxy=193.0.6.139-127.0.0.1',
        BASE,
        'A',
      ]);
      assert.notEqual(res.code, 0);
      assert.doesNotMatch(res.out, /status: NOERROR/);
      // The same source without a header is an ordinary client.
      const plain = await kdig(untrusted.dnsPort, [transport, BASE, 'A', '+short']);
      assert.equal(plain.out.trim(), '192.0.2.31');
    });
  }

  it('TCP: a connection opening with a refused header is closed before any answer', async () => {
    const header = buildProxyV2(
      { address: '193.0.6.139', port: 1 },
      { address: '127.0.0.1', port: untrusted.dnsPort },
      'stream',
    );
    const received = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      const s = connect(untrusted.dnsPort, '127.0.0.1', () => s.write(header));
      s.on('data', (d) => (bytes += d.length));
      s.on('close', () => resolve(bytes));
      s.on('error', reject);
      s.setTimeout(3000, () => reject(new Error('connection left open')));
    });
    assert.equal(received, 0);
  });

  it('counts refused headers by transport', async () => {
    const text = await (await fetch(`${untrusted.apiUrl}/metrics`)).text();
    // kdig's UDP query (one try) and TCP connection, and the hand-built connection above.
    assert.match(text, /cirrus_dns_proxy_refused_total\{transport="udp"\} [1-9]/);
    assert.match(text, /cirrus_dns_proxy_refused_total\{transport="tcp"\} [2-9]/);
    const none = await (await fetch(`${trusted.apiUrl}/metrics`)).text();
    assert.match(none, /cirrus_dns_proxy_refused_total\{transport="udp"\} 0/);
  });
});

describe('PROXY protocol v2: TCP connections count against the client they carry', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({
      seed: { dir: ZONES },
      dns: { proxyProtocol: { allow: ['127.0.0.0/8'] }, tcpMaxConnectionsPerPrefix: 2 },
    });
  });
  after(() => run?.stop());

  /** A connection from this (allowed) proxy carrying `client`; whether it is answered. */
  const proxied = (client: string) =>
    new Promise<{ answered: boolean; close: () => void }>((resolve) => {
      const header = buildProxyV2(
        { address: client, port: 5353 },
        { address: '127.0.0.1', port: run.dnsPort },
        'stream',
      );
      const query = Buffer.from(
        '000100000001000000000000' + // ID 1, one question
          '0363646e076578616d706c65036e657400' + // cdn.example.net
          '00060001', // SOA IN
        'hex',
      );
      const framed = Buffer.concat([Buffer.from([0, query.length]), query]);
      const s = connect(run.dnsPort, '127.0.0.1', () => s.write(Buffer.concat([header, framed])));
      const timer = setTimeout(() => resolve({ answered: false, close: () => s.destroy() }), 2000);
      s.on('error', () => undefined);
      s.once('data', () => {
        clearTimeout(timer);
        resolve({ answered: true, close: () => s.destroy() });
      });
      s.once('close', () => {
        clearTimeout(timer);
        resolve({ answered: false, close: () => undefined });
      });
    });

  it('lets one proxy hold more connections than one prefix may, and limits each client', async () => {
    // Five clients in five networks through one proxy address: all answered.
    const many = await Promise.all(
      ['192.0.2.1', '198.51.100.1', '203.0.113.1', '193.0.6.139', '81.2.69.142'].map(proxied),
    );
    assert.deepEqual(
      many.map((c) => c.answered),
      [true, true, true, true, true],
    );
    // 203.0.113.0/24 holds one already: a second is answered, a third and fourth closed.
    const a = await proxied('203.0.113.7');
    const b = await proxied('203.0.113.8');
    const c = await proxied('203.0.113.9');
    assert.deepEqual([a.answered, b.answered, c.answered], [true, false, false]);
    for (const conn of [...many, a, b, c]) conn.close();
  });
});
