// Extended DNS Errors (RFC 8914) and opcode handling as `dig` 9.18 prints them: REFUSED
// outside our zones carries EDE 20, a debug name refused by its access list EDE 18, a
// fail-closed base name with no healthy node NODATA with EDE 0 and a text; no EDE without
// EDNS. An unknown opcode is NOTIMP with or without a question; NOTIFY and UPDATE for a
// zone we do not serve are NOTAUTH.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';

const ZONE = 'cdn.example.net';
const ede = (raw: string) => /; EDE: (.*)/.exec(raw)?.[1];
const opcodeOf = (raw: string) => /opcode: (\w+)/.exec(raw)?.[1];

describe('Extended DNS Errors and opcodes', () => {
  let run: RunningCirrus;
  let closed: string;
  before(async () => {
    // Debug names only for a network the test does not query from.
    run = await startCirrus({ debug: { enabled: true, allow: ['192.0.2.0/24'] } });
    const nodes = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'down', ipv4: '198.51.100.9', pool: 'default', weight: 100, active: false },
    ]);
    assert.equal(nodes.status, 200);
    const domain = await api(run, 'POST', '/api/v1/domains', {
      domain: 'closed.example.com',
      origins: [{ address: '203.0.113.5' }],
      lastResort: 'fail-closed',
    });
    assert.equal(domain.status, 201, JSON.stringify(domain.json));
    closed = domain.json.cname;
    await run.cirrus.flush();
  });
  after(() => run.stop());

  it('REFUSED outside our zones carries EDE 20 (Not Authoritative)', async () => {
    const d = await dig(run.dnsPort, ['example.org', 'A']);
    assert.equal(d.status, 'REFUSED');
    assert.equal(ede(d.raw), '20 (Not Authoritative)');
    const plain = await dig(run.dnsPort, ['+noedns', 'example.org', 'A']);
    assert.equal(plain.status, 'REFUSED');
    assert.equal(ede(plain.raw), undefined, 'no OPT, no EDE');
  });

  it('a debug name refused by its access list carries EDE 18 (Prohibited)', async () => {
    const d = await dig(run.dnsPort, [`whoami.${ZONE}`, 'TXT']);
    assert.equal(d.status, 'REFUSED');
    assert.equal(ede(d.raw), '18 (Prohibited)');
  });

  it('a fail-closed name with no healthy node is NODATA with EDE 0 and a text', async () => {
    const d = await dig(run.dnsPort, [closed, 'A']);
    assert.equal(d.status, 'NOERROR');
    assert.equal(d.answer.length, 0);
    assert.equal(ede(d.raw), '0 (Other): (no healthy node)');
    // An ordinary NODATA (a type the name does not have) carries none.
    const mx = await dig(run.dnsPort, [closed, 'MX']);
    assert.equal(mx.status, 'NOERROR');
    assert.equal(ede(mx.raw), undefined);
  });

  it('answers an unknown opcode NOTIMP, with a question or header only', async () => {
    for (const opcode of ['3', '15']) {
      const bare = await dig(run.dnsPort, [`+opcode=${opcode}`, '+header-only']);
      assert.equal(bare.status, 'NOTIMP', `opcode ${opcode}, no question`);
      assert.equal(opcodeOf(bare.raw), `RESERVED${opcode}`);
      const asked = await dig(run.dnsPort, [`+opcode=${opcode}`, ZONE, 'SOA']);
      assert.equal(asked.status, 'NOTIMP', `opcode ${opcode} with a question`);
    }
  });

  it('answers NOTIFY and UPDATE for a zone we do not serve NOTAUTH', async () => {
    for (const opcode of ['notify', 'update']) {
      const d = await dig(run.dnsPort, [`+opcode=${opcode}`, 'example.org', 'SOA']);
      assert.equal(d.status, 'NOTAUTH', opcode);
      assert.equal(opcodeOf(d.raw), opcode.toUpperCase());
    }
    // NOTIFY for our own zone: this server is its primary, it takes none (NOTIMP).
    const ours = await dig(run.dnsPort, ['+opcode=notify', ZONE, 'SOA']);
    assert.equal(ours.status, 'NOTIMP');
  });
});
