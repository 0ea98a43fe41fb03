// No client-dependent NODATA (issue 18), through a real resolver that shares negative answers:
// PowerDNS Recursor 4.8 caches a NODATA once for every client whatever its ECS scope, and
// serves it to other subnets and to clients without ECS. With the seeded example and no
// GeoIP, a client outside the CIDR map lands in the default pool iad, which has no IPv6
// node, while 10.0.0.0/8 is mapped to fra, which has. Both subnets asking AAAA through the
// recursor get an AAAA, the IPv4-only pool's client first, and so does a client without ECS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { startPdnsRecursor, type PdnsRecursor } from '../helpers/pdns-recursor.js';
import { clientSubnet, dig } from '../helpers/dig.js';

const ZONES = fileURLToPath(new URL('../../zones', import.meta.url));
const NAME = 'static-example-org.cdn.example.net';
const SUBNET_A = '81.2.69.0/24'; // not mapped: default pool iad (IPv4 only)
const SUBNET_B = '10.1.0.0/16'; // mapped to fra (IPv4 and IPv6)

describe('no client-dependent NODATA, through PowerDNS Recursor', () => {
  let run: RunningCirrus;
  let pdns: PdnsRecursor;

  before(async () => {
    run = await startCirrus({ seed: { dir: ZONES } });
    pdns = await startPdnsRecursor('cdn.example.net', run.dnsPort);
  });
  after(async () => {
    await pdns?.stop();
    await run?.stop();
  });

  const aaaa = (r: { answer: string[] }) =>
    r.answer.filter((l) => / AAAA /.test(l)).map((l) => l.split(' ').at(-1));

  it('the authoritative itself: AAAA for subnet A from the nearest pool with IPv6', async () => {
    const r = await dig(run.dnsPort, [NAME, 'AAAA', `+subnet=${SUBNET_A}`, '+norec']);
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(aaaa(r), ['2001:db8:1::11']);
    // The decision looked at the CIDR map (/2 for an address outside 10/8), nothing more.
    assert.equal(clientSubnet(r.raw), `${SUBNET_A}/2`);
  });

  it('the recursor passes each client’s subnet on: A answers differ by subnet', async () => {
    const a = await dig(pdns.port, [NAME, 'A', `+subnet=${SUBNET_A}`]);
    const b = await dig(pdns.port, [NAME, 'A', `+subnet=${SUBNET_B}`]);
    assert.match(a.answer.join('\n'), /192\.0\.2\.31/, 'iad for subnet A');
    assert.match(b.answer.join('\n'), /192\.0\.2\.1[12]/, 'fra for subnet B');
  });

  it('both subnets get AAAA through the recursor, the IPv4-only pool’s client first', async () => {
    const a = await dig(pdns.port, [NAME, 'AAAA', `+subnet=${SUBNET_A}`]);
    assert.equal(a.status, 'NOERROR');
    assert.deepEqual(aaaa(a), ['2001:db8:1::11'], `subnet A: ${a.raw}`);
    const b = await dig(pdns.port, [NAME, 'AAAA', `+subnet=${SUBNET_B}`]);
    assert.deepEqual(aaaa(b), ['2001:db8:1::11'], `subnet B: ${b.raw}`);
    const none = await dig(pdns.port, [NAME, 'AAAA']);
    assert.deepEqual(aaaa(none), ['2001:db8:1::11'], `no ECS: ${none.raw}`);
  });
});
