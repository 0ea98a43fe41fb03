// Reads a state file of version 1 (sections per feature: domains, nodes, tokens, ...) into
// the keyspace the embedded store holds, by replaying each section through its feature's
// repository on a memory-only store: each feature encodes its own data, as it does live.
import { EmbeddedStore } from './store/embedded.js';
import type { KeyspaceFile } from './store/keyspace.js';
import { repositories } from './repositories.js';
import type { Domain, EdgeNode, TokenRecord } from './model/domain.js';
import type { GslbPolicy } from './gslb/policy-model.js';
import type { AcmeDnsAccount, AcmeDomainState, StoredCertificate } from './model/acme.js';
import { acmeKeys } from './acme/repository.js';
import type { JournalEntry, ZoneVersion } from './xfr/journal.js';
import type { PeersDocument } from './xfr/peers.js';
import { xfrKeys } from './xfr/repository.js';
import { domainKeys } from './domains/repository.js';

/** Version 1 as it was written; every member but `version` may be absent. */
interface FileV1 {
  version: 1;
  domains?: Record<string, Domain> | Map<string, Domain>;
  nodes?: Record<string, EdgeNode>;
  zones?: Record<string, string>;
  tokens?: Record<string, TokenRecord & { hash: string }>;
  soa?: Record<string, { serial: number; hash: string }>;
  meta?: Record<string, string>;
  policy?: GslbPolicy | null;
  acmeTxt?: Record<string, number>;
  acmeDns?: Record<string, AcmeDnsAccount>;
  acme?: Record<string, AcmeDomainState>;
  certs?: Record<string, StoredCertificate>;
  acmeKeys?: Record<string, string>;
  xfr?: {
    peers: PeersDocument | null;
    versions: Record<string, ZoneVersion>;
    journals: Record<string, JournalEntry[]>;
  };
}

const values = <T>(m: Record<string, T> | Map<string, T> | undefined): Iterable<[string, T]> =>
  m instanceof Map ? m : Object.entries(m ?? {});

export async function migrateStateFileV1(parsed: Record<string, unknown>): Promise<KeyspaceFile> {
  if (parsed.version !== 1)
    throw new Error(`state file version ${String(parsed.version)} is unknown`);
  const v1 = parsed as unknown as FileV1;
  const store = new EmbeddedStore();
  const r = repositories(store);
  const domains = [...values(v1.domains)];
  // One write for every domain: 100,000 of them at scale.
  await store.write([
    ...domains.map(([, d]) => ({
      op: 'setJson' as const,
      key: domainKeys.domain(d.domain),
      value: d,
    })),
    { op: 'sadd', key: domainKeys.domains, members: domains.map(([, d]) => d.domain) },
  ]);
  for (const [, node] of values(v1.nodes)) {
    await r.nodes.put(node);
    if (node.health) await r.nodes.setHealth(node.id, node.active, node.health);
  }
  for (const [zone, text] of values(v1.zones)) await r.zoneText.put(zone, text);
  for (const [, { hash, ...token }] of values(v1.tokens)) await r.tokens.put(token, hash);
  for (const [zone, soa] of values(v1.soa)) await r.serials.advance(zone, soa.hash, soa.serial);
  for (const [name, value] of values(v1.meta))
    await store.write([{ op: 'set', key: `cdn:meta:${name}`, value }]);
  if (v1.policy) await r.policy.put(v1.policy);
  for (const [member, score] of values(v1.acmeTxt))
    await store.write([{ op: 'zadd', key: acmeKeys.acmeTxt, member, score }]);
  for (const [, account] of values(v1.acmeDns)) await r.acme.putDnsAccount(account);
  for (const [, state] of values(v1.acme)) await r.acme.putState(state);
  for (const [domain, cert] of values(v1.certs)) await r.acme.putCertificate(domain, cert);
  for (const [key, value] of values(v1.acmeKeys)) await store.write([{ op: 'set', key, value }]);
  if (v1.xfr?.peers) await r.xfr.putPeers(v1.xfr.peers);
  for (const [zone, version] of values(v1.xfr?.versions))
    await r.xfr.commitZoneVersion(zone, null, version, null, 0);
  for (const [zone, journal] of values(v1.xfr?.journals))
    await store.write([
      { op: 'rpush', key: xfrKeys.xfrJournal(zone), values: journal.map((e) => JSON.stringify(e)) },
    ]);
  return store.toFile();
}
