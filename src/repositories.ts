// Every feature's repository over one store, built once by the composition root (server.ts,
// cli.ts), and the snapshot's view of them. Each repository owns its keys; the store below
// knows none of them.
import type { Store } from './store/store.js';
import type { Logger } from './lib/logger.js';
import { DomainRepository, NodeRepository } from './domains/repository.js';
import { ZoneTextRepository } from './zone/repository.js';
import { SerialRepository } from './snapshot/serial-record.js';
import { PolicyRepository } from './gslb/policy-repository.js';
import { TokenRepository } from './auth/token-repository.js';
import { HealthRepository } from './health/repository.js';
import { AcmeRepository } from './acme/repository.js';
import { XfrRepository } from './xfr/repository.js';
import { CookieSecretRepository } from './protect/cookie-repository.js';
import { DnssecKeyRepository } from './dnssec/key-repository.js';
import { ReleaseRepository } from './snapshot/release-record.js';
import { InstanceRepository } from './snapshot/instance-record.js';
import type { SnapshotSource } from './snapshot/source.js';

export interface Repositories {
  store: Store;
  domains: DomainRepository;
  nodes: NodeRepository;
  zoneText: ZoneTextRepository;
  serials: SerialRepository;
  policy: PolicyRepository;
  tokens: TokenRepository;
  health: HealthRepository;
  acme: AcmeRepository;
  xfr: XfrRepository;
  cookies: CookieSecretRepository;
  dnssec: DnssecKeyRepository;
  releases: ReleaseRepository;
  instances: InstanceRepository;
}

export function repositories(store: Store, logger?: Logger): Repositories {
  return {
    store,
    domains: new DomainRepository(store),
    nodes: new NodeRepository(store),
    zoneText: new ZoneTextRepository(store),
    serials: new SerialRepository(store),
    policy: new PolicyRepository(store),
    tokens: new TokenRepository(store),
    health: new HealthRepository(store),
    acme: new AcmeRepository(store, logger),
    xfr: new XfrRepository(store),
    cookies: new CookieSecretRepository(store),
    dnssec: new DnssecKeyRepository(store),
    releases: new ReleaseRepository(store),
    instances: new InstanceRepository(store),
  };
}

export function snapshotSource(r: Repositories): SnapshotSource {
  return {
    onChange: (listener) => r.store.onChange(listener),
    loadState: async (zone) => {
      const [domains, nodes, zoneText, policy, dnssecKeys] = await Promise.all([
        r.domains.loadAll(),
        r.nodes.list(),
        r.zoneText.get(zone),
        r.policy.get(),
        r.dnssec.list(zone),
      ]);
      return { domains, nodes, zoneText, policy, ...(dnssecKeys.length ? { dnssecKeys } : {}) };
    },
    listAcmeTxt: (now) => r.acme.listTxt(now),
    advanceSerial: (zone, hash, floor) => r.serials.advance(zone, hash, floor),
    releases: r.releases,
  };
}
