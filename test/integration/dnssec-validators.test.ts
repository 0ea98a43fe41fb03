// Issue 19 through real validators (recipe dnssec-validators.md): Cirrus signs online with
// DNSSEC=on (ECDSA P-256, then Ed25519), and unbound, knot-resolver, delv and dnsviz, each
// given only the trust anchor taken from Cirrus's own DNSKEY, validate what it serves: a
// static answer, GSLB answers (with ECS, passed on by unbound's subnetcache), NODATA, a
// name that does not exist (compact denial: NOERROR and an NSEC with NXNAME), a wildcard
// answer, a CNAME into a base name, an acme-dns TXT and the apex. The CDS Cirrus publishes
// equals the DS BIND's dnssec-dsfromkey computes from its DNSKEY, and kresd takes that DS as
// its anchor. A wrong anchor makes unbound answer SERVFAIL and delv report a broken chain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig, type DigResult } from '../helpers/dig.js';
import {
  anchorsFromDnskey,
  delv,
  dnsviz,
  dsFromKeys,
  spoilAnchor,
  startKresd,
  startUnbound,
  type Resolver,
} from '../helpers/validators.js';

const ZONES = fileURLToPath(new URL('../../zones', import.meta.url));
const ZONE = 'cdn.example.net';
const BASE = `static-example-org.${ZONE}`;
const DIGEST = 'LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo';
// Records the seeded zone lacks: a wildcard and a CNAME into a base name.
const EXTRA = [
  '*.wild 300 IN TXT "wildcard"',
  '*.wild 300 IN A 198.51.100.77',
  'cdn-alias 300 IN CNAME static-example-org',
  '',
].join('\n');

interface Case {
  name: string;
  type: string;
  /** What the answer section must hold (joined lines); null: no answer (NODATA, NXDOMAIN). */
  answer: RegExp | null;
}

/** The cases every validator must prove; `acme` is the acme-dns name registered in before(). */
function cases(acme: string): Case[] {
  return [
    // From 127.0.0.1 (or 127.0.0.0/24, unbound's ECS for it): the default pool iad.
    { name: BASE, type: 'A', answer: /\bA 192\.0\.2\.31$/m },
    // iad has no IPv6 node: the nearest pool with one answers (no client-dependent NODATA).
    { name: BASE, type: 'AAAA', answer: /\bAAAA 2001:db8:1::11$/m },
    { name: `status.${ZONE}`, type: 'A', answer: /\bA 198\.51\.100\.10$/m },
    { name: ZONE, type: 'TXT', answer: /"v=spf1 -all"/ },
    { name: BASE, type: 'TXT', answer: null },
    { name: `nope.${ZONE}`, type: 'A', answer: null },
    {
      name: `x.wild.${ZONE}`,
      type: 'TXT',
      answer: /^x\.wild\.cdn\.example\.net\. \d+ IN TXT "wildcard"$/m,
    },
    { name: `a.b.wild.${ZONE}`, type: 'A', answer: /^a\.b\.wild\.\S+ \d+ IN A 198\.51\.100\.77$/m },
    { name: `x.wild.${ZONE}`, type: 'AAAA', answer: null },
    {
      name: `cdn-alias.${ZONE}`,
      type: 'A',
      answer: /CNAME static-example-org\.cdn\.example\.net\.\n.*\bA 192\.0\.2\.31$/m,
    },
    { name: acme, type: 'TXT', answer: new RegExp(`"${DIGEST}"`) },
  ];
}

function assertValidated(r: DigResult, c: Case, who: string): void {
  const where = `${who} ${c.name} ${c.type}:\n${r.raw}`;
  assert.equal(r.status, 'NOERROR', where);
  assert.ok(r.flags.includes('ad'), `AD expected from ${where}`);
  const answer = r.answer.filter((l) => !/ RRSIG /.test(l)).join('\n');
  if (c.answer === null) assert.equal(answer, '', where);
  else assert.match(answer, c.answer, where);
}

for (const algorithm of ['ecdsap256sha256', 'ed25519'] as const) {
  const number = algorithm === 'ed25519' ? 15 : 13;

  describe(`DNSSEC validated by unbound, kresd, delv and dnsviz (${algorithm})`, () => {
    let seed: string;
    let run: RunningCirrus;
    let anchors: string[];
    let ds: string[];
    let acme: string;
    let unbound: Resolver;
    let kresd: Resolver;
    let unboundWrong: Resolver;

    before(async () => {
      seed = mkdtempSync(join(tmpdir(), 'cirrus-dnssec-seed-'));
      cpSync(ZONES, seed, { recursive: true });
      appendFileSync(join(seed, 'records.zone'), EXTRA);
      run = await startCirrus({
        seed: { dir: seed },
        zone: { name: ZONE },
        dnssec: { enabled: true, algorithm },
        acme: { txtLifetimeSec: 3600, issuer: { enabled: false } },
      });
      // An acme-dns TXT, published through the acme-dns API as a client would.
      const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(run.apiUrl + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
        assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
        return (await res.json()) as Record<string, string>;
      };
      const reg = await post('/register', {});
      await post(
        '/update',
        { subdomain: reg.subdomain, txt: DIGEST },
        { 'X-Api-User': reg.username as string, 'X-Api-Key': reg.password as string },
      );
      acme = reg.fulldomain as string;
      for (let i = 0; i < 100; i++) {
        const r = await dig(run.dnsPort, [acme, 'TXT']);
        if (r.answer.length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }

      anchors = await anchorsFromDnskey(run.dnsPort, ZONE);
      ds = await dsFromKeys(ZONE, anchors);
      unbound = await startUnbound({ zone: ZONE, authPort: run.dnsPort, anchors, ecs: true });
      kresd = await startKresd({ zone: ZONE, authPort: run.dnsPort, anchors: ds });
      unboundWrong = await startUnbound({
        zone: ZONE,
        authPort: run.dnsPort,
        anchors: anchors.map(spoilAnchor),
      });
    });
    after(async () => {
      await unboundWrong?.stop();
      await kresd?.stop();
      await unbound?.stop();
      await run?.stop();
      if (seed) rmSync(seed, { recursive: true, force: true });
    });

    it(`the anchor: one DNSKEY of algorithm ${number}; CDS equals dnssec-dsfromkey's DS`, async () => {
      assert.equal(anchors.length, 1, anchors.join('\n'));
      assert.match(anchors[0] as string, new RegExp(`^${ZONE}\\. \\d+ IN DNSKEY 257 3 ${number} `));
      const cds = await dig(run.dnsPort, [ZONE, 'CDS', '+norec']);
      const published = cds.answer.map((l) => l.split(' ').slice(4).join(' ').toUpperCase());
      const computed = ds.map((l) => l.split(' ').slice(-4).join(' ').toUpperCase());
      assert.deepEqual(
        published.map((s) => s.replace(/ (?=[0-9A-F]+$)/g, '').replace(/\s+/g, ' ')),
        computed,
      );
    });

    it('unbound (ECS on) and kresd return AD for every kind of answer', async () => {
      for (const [who, resolver] of [
        ['unbound', unbound],
        ['kresd', kresd],
      ] as const)
        for (const c of cases(acme)) {
          const r = await dig(resolver.port, [c.name, c.type, '+dnssec', '+time=5']);
          assertValidated(r, c, who);
        }
    });

    it('GSLB answers with ECS through unbound: each subnet its own pool, each with AD', async () => {
      // 10.0.0.0/8 is mapped to fra (192.0.2.11/12); 81.2.69.0/24 is not mapped: iad.
      const fra = await dig(unbound.port, [BASE, 'A', '+subnet=10.1.2.0/24', '+time=5']);
      assertValidated(fra, { name: BASE, type: 'A', answer: /\bA 192\.0\.2\.1[12]$/m }, 'unbound');
      const iad = await dig(unbound.port, [BASE, 'A', '+subnet=81.2.69.0/24', '+time=5']);
      assertValidated(iad, { name: BASE, type: 'A', answer: /\bA 192\.0\.2\.31$/m }, 'unbound');
      // The authoritative itself answers the same subnet with a scoped, signed answer.
      const direct = await dig(run.dnsPort, [BASE, 'A', '+subnet=10.1.2.0/24', '+dnssec']);
      assert.match(direct.answer.join('\n'), new RegExp(`RRSIG A ${number} 4 `), direct.raw);
      assert.match(direct.raw, /CLIENT-SUBNET: 10\.1\.2\.0\/24\/\d+/, direct.raw);
    });

    it('compact denial: a nonexistent name is NOERROR with an NSEC whose bitmap has NXNAME', async () => {
      const r = await dig(run.dnsPort, [`nope.${ZONE}`, 'A', '+dnssec', '+norec']);
      assert.equal(r.status, 'NOERROR', r.raw);
      assert.deepEqual(r.answer, []);
      const nsec = r.authority.find((l) => / NSEC /.test(l));
      assert.ok(nsec, r.raw);
      assert.match(
        nsec,
        /^nope\.cdn\.example\.net\. \d+ IN NSEC \\000\.nope\.cdn\.example\.net\. RRSIG NSEC TYPE128$/,
      );
      // Through unbound the proof validates and the answer stays NOERROR with AD.
      const v = await dig(unbound.port, [`nope.${ZONE}`, 'A', '+dnssec', '+time=5']);
      assert.equal(v.status, 'NOERROR', v.raw);
      assert.ok(v.flags.includes('ad'), v.raw);
      assert.ok(
        v.authority.some((l) => / NSEC .*TYPE128$/.test(l)),
        v.raw,
      );
    });

    it('delv with the DNSKEY anchor fully validates every case', async () => {
      for (const c of cases(acme)) {
        const r = await delv(run.dnsPort, ZONE, anchors, [c.name, c.type]);
        assert.ok(r.validated, `delv ${c.name} ${c.type}:\n${r.out}`);
        assert.equal(r.negative, c.answer === null, `delv ${c.name} ${c.type}:\n${r.out}`);
        if (c.answer) {
          const data = r.out
            .split('\n')
            .filter((l) => !l.startsWith(';') && !/\sRRSIG\s/.test(l))
            .map((l) => l.replace(/\s+/g, ' ').trim())
            .join('\n');
          assert.match(data, c.answer, `delv ${c.name} ${c.type}:\n${r.out}`);
        }
      }
    });

    it('dnsviz probe + grok: every status secure or valid, no BOGUS, no errors', async () => {
      const r = await dnsviz(run.dnsPort, ZONE, `ns1.${ZONE}`, anchors, [
        BASE,
        `x.wild.${ZONE}`,
        `cdn-alias.${ZONE}`,
        acme,
      ]);
      const detail = `${JSON.stringify(r.statuses)}\n${r.errors.join('\n')}\n${r.print}`;
      assert.deepEqual(r.errors, [], detail);
      assert.equal(r.statuses.BOGUS ?? 0, 0, detail);
      assert.ok((r.statuses.SECURE ?? 0) > 10, detail);
      for (const bad of ['INSECURE', 'INDETERMINATE', 'NON_EXISTENT'])
        assert.equal(r.statuses[bad] ?? 0, 0, `${bad}: ${detail}`);
      // print marks each secure line [.]; a bogus one [!], an insecure one [-].
      assert.doesNotMatch(r.print, /\[[!-]\]/, r.print);
      assert.match(r.print, /\[\.\] {2}A: 192\.0\.2\.31/, r.print);
      assert.match(r.print, /NSEC: \S+ \\000\.\S+ RRSIG NSEC TYPE128/, r.print);
    });

    it('/metrics: signatures computed once per RRset, then taken from the cache', async () => {
      const metric = async (name: string) => {
        const text = await (await fetch(`${run.apiUrl}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        assert.ok(line, `${name} in /metrics`);
        return Number(line.split(' ')[1]);
      };
      const q = [`status.${ZONE}`, 'A', '+dnssec', '+norec'];
      await dig(run.dnsPort, q);
      const signed = await metric('cirrus_dnssec_signatures_total');
      const hits = await metric('cirrus_dnssec_signature_cache_hits_total');
      assert.ok(signed > 0);
      assert.ok((await metric('cirrus_dnssec_signature_cache_entries')) > 0);
      // The same RRset again, from another EDNS shape (no answer-cache hit): no new signature.
      await dig(run.dnsPort, [...q, '+bufsize=4000', '+nocookie']);
      assert.equal(await metric('cirrus_dnssec_signatures_total'), signed);
      assert.ok((await metric('cirrus_dnssec_signature_cache_hits_total')) > hits);
    });

    it('a wrong anchor fails: unbound SERVFAIL (data only with +cd), delv no chain of trust', async () => {
      const r = await dig(unboundWrong.port, [BASE, 'A', '+time=5']);
      assert.equal(r.status, 'SERVFAIL', r.raw);
      assert.match(r.raw, /EDE: \d+/, r.raw);
      const cd = await dig(unboundWrong.port, [BASE, 'A', '+cd', '+time=5']);
      assert.equal(cd.status, 'NOERROR', cd.raw);
      assert.ok(!cd.flags.includes('ad'), cd.raw);
      const d = await delv(run.dnsPort, ZONE, anchors.map(spoilAnchor), [BASE, 'A']);
      assert.ok(!d.validated, d.out);
      assert.match(d.out, /resolution failed|no valid|broken trust chain/, d.out);
    });
  });
}
