// The Redis key schema shared with existing Cirrus CDN deployments (DESIGN.md), plus the
// keys Cirrus GSLB adds under the same prefix. The embedded store mirrors the same layout.

export const keys = {
  domains: 'cdn:domains',
  domain: (d: string) => `cdn:dom:${d}`,
  nodes: 'cdn:nodes',
  node: (id: string) => `cdn:node:${id}`,
  tokens: 'cdn:tokens',
  token: (id: string) => `cdn:token:${id}`,
  tokenHash: (hash: string) => `cdn:token_hash:${hash}`,
  /** Static records of a zone, as RFC 1035 zone text (added by Cirrus GSLB). */
  zoneText: (zone: string) => `cdn:zonefile:${zone}`,
  /** SOA serial and the content hash it was assigned to (added by Cirrus GSLB). */
  soa: (zone: string) => `cdn:soa:${zone}`,
  /** Facts about the deployment, such as when the seed ran (added by Cirrus GSLB). */
  meta: (name: string) => `cdn:meta:${name}`,
  /** The GSLB policy document: pools, chain, CIDR maps (added by Cirrus GSLB). */
  policy: 'cdn:gslb:policy',
  /** One instance's health view of one node, with expiry (added by Cirrus GSLB). */
  healthView: (node: string, instance: string) => `cdn:health:${node}:${instance}`,
  /** Instances that wrote views lately (sorted set, score: ms of the last write), the index of the views. */
  healthInstances: 'cdn:health:instances',
  /** One instance's live serial and content hash, with expiry (added by Cirrus GSLB). */
  instance: (id: string) => `cdn:instance:${id}`,
  /** Instances that wrote their key lately (sorted set, score: ms of the last write). */
  instances: 'cdn:instances',
  /** Leader locks for schedules that one instance runs at a time (added by Cirrus GSLB). */
  lock: (name: string) => `cdn:lock:${name}`,
  /** Challenge TXT values: sorted set, member JSON [name, value], score expiry in ms (added by Cirrus GSLB). */
  acmeTxt: 'cdn:acmetxt',
  /** One acme-dns registration (hash; added by Cirrus GSLB). */
  acmeDnsAccount: (username: string) => `cdn:acmedns:${username}`,
  /** A domain's ACME registration and certificate state (JSON). */
  acmeState: (domain: string) => `cdn:acme:${domain}`,
  acmeLock: (domain: string) => `cdn:acme:lock:${domain}`,
  /** The certificate the edge loads by SNI (hash: cert, key, issued_at, expires_at). */
  cert: (domain: string) => `cdn:cert:${domain}`,
  acmeAccountKey: 'cdn:acmeacct:global',
  acmeCertKey: (domain: string) => `cdn:acmecertkey:${domain}`,
  /** TSIG keys and secondaries managed through the API (added by Cirrus GSLB). */
  xfrPeers: 'cdn:xfr:peers',
  /** The zone version last offered to secondaries: serial, SOA, records (added by Cirrus GSLB). */
  xfrVersion: (zone: string) => `cdn:xfr:version:${zone}`,
  /** IXFR journal: one JSON diff per serial change, oldest first (added by Cirrus GSLB). */
  xfrJournal: (zone: string) => `cdn:xfr:journal:${zone}`,
} as const;

export const channels = {
  /** Any write that changes DNS content; the payload is informative only. */
  dirty: 'cdn:cname:dirty',
  purge: 'cdn:purge',
} as const;
