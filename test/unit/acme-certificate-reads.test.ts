// Start-up and renewal scans read certificates by domain name, batched, without copying
// every domain record: getCertificates must give getCertificate's answer for each name, in
// order, across batch boundaries, and names() the domains list()'s order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { AcmeRepository } from '../../src/acme/repository.js';
import { DomainRepository } from '../../src/domains/repository.js';
import type { Domain } from '../../src/model/domain.js';

describe('certificate reads by name', () => {
  it('getCertificates matches getCertificate for 1,201 names, certificates on every seventh', async () => {
    const store = new EmbeddedStore();
    const acme = new AcmeRepository(store);
    const names = Array.from({ length: 1201 }, (_, i) => `d${i}.example.com`);
    for (let i = 0; i < names.length; i += 7)
      await acme.putCertificate(names[i] as string, {
        cert: `CERT ${i}`,
        key: `KEY ${i}`,
        issuedAt: '2026-01-01T00:00:00.000Z',
        expiresAt: new Date(Date.UTC(2027, 0, 1) + i * 1000).toISOString(),
      });
    const got = await acme.getCertificates(names);
    assert.equal(got.length, names.length);
    for (let i = 0; i < names.length; i++)
      assert.deepEqual(got[i], await acme.getCertificate(names[i] as string), names[i]);
    assert.equal(got.filter(Boolean).length, Math.ceil(names.length / 7));
    assert.equal(got[1190]?.cert, 'CERT 1190');
    assert.deepEqual(await acme.getCertificates([]), []);
  });

  it('names() lists the domains list() reads, in the same order', async () => {
    const domains = new DomainRepository(new EmbeddedStore());
    for (const n of ['b.example.com', 'a.example.com', 'c.example.org'])
      await domains.put({ domain: n, label: n.split('.')[0] } as Domain);
    assert.deepEqual(await domains.names(), ['a.example.com', 'b.example.com', 'c.example.org']);
    assert.deepEqual(
      await domains.names(),
      (await domains.list()).map((d) => d.domain),
    );
  });
});
