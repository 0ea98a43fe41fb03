// Who the hidden master talks to: TSIG keys, secondaries (NOTIFY targets that may
// transfer) and further transfer clients, merged from the config (fixed) and the store
// (managed through the API). It decides consistency (names unique, keys that exist,
// addresses that parse) and the transfer ACL; it does no I/O.
import type { SecondaryConfig, TsigKeyConfig, XfrConfig } from '../config/schema.js';
import { CidrSet } from '../lib/cidr.js';
import { normalizeName } from '../lib/dnsname.js';
import { TsigKeyring, type TsigKey } from '../wire/tsig.js';
import { UpdateScope } from './update-scope.js';

/** The API-managed part, stored whole as one document (`cdn:xfr:peers`). */
export interface PeersDocument {
  keys: TsigKeyConfig[];
  secondaries: SecondaryConfig[];
}

export function toTsigKey(k: TsigKeyConfig): TsigKey {
  return {
    name: normalizeName(k.name),
    algorithm: k.algorithm,
    secret: Buffer.from(k.secret, 'base64'),
  };
}

export interface Secondary extends SecondaryConfig {
  readonly source: 'config' | 'api';
}

interface AclEntry {
  readonly cidrs: CidrSet;
  /** Required key name; null = an unsigned request is allowed. */
  readonly key: string | null;
}

/** Keys, secondaries and the transfer ACL in force: config entries first, then the API's. */
export class Peers {
  readonly keyring: TsigKeyring;
  readonly secondaries: readonly Secondary[];
  /** Keys that may UPDATE the static zone, by key name (RFC 2136, xfr/update.ts). */
  readonly updateScopes: ReadonlyMap<string, UpdateScope>;
  private readonly acl: readonly AclEntry[];

  constructor(config: XfrConfig, doc: PeersDocument | null) {
    const keys = [...config.keys, ...(doc?.keys ?? [])];
    this.keyring = new TsigKeyring(keys.map(toTsigKey));
    this.updateScopes = new Map(
      keys.flatMap((k) => (k.update ? [[normalizeName(k.name), new UpdateScope(k.update)]] : [])),
    );
    this.secondaries = [
      ...config.secondaries.map((s) => ({ ...s, source: 'config' as const })),
      ...(doc?.secondaries ?? []).map((s) => ({ ...s, source: 'api' as const })),
    ];
    this.acl = [
      ...this.secondaries.map((s) => ({
        cidrs: new CidrSet([s.address]),
        key: s.key === null ? null : normalizeName(s.key),
      })),
      ...config.allow.map((a) => ({
        cidrs: new CidrSet([a.cidr]),
        key: a.key === null ? null : normalizeName(a.key),
      })),
    ];
  }

  /**
   * May `address`, signing with `keyName` (undefined = unsigned; the signature is
   * already verified), transfer the zone? An entry listed with a key matches only that
   * key, so such an address never transfers unsigned or with another key. A key with an
   * UPDATE scope that allows transfers may transfer from any address: the key is the
   * credential, as for its updates (clients such as ExternalDNS read the zone back).
   */
  mayTransfer(address: string, keyName: string | undefined): boolean {
    if (keyName !== undefined && this.updateScopes.get(keyName)?.transfer) return true;
    return this.acl.some((e) => e.cidrs.has(address) && (e.key === null || e.key === keyName));
  }

  /** Whether anyone at all may transfer: otherwise the IXFR journal has no reader. */
  get anyTransfer(): boolean {
    return this.acl.length > 0 || [...this.updateScopes.values()].some((s) => s.transfer);
  }

  key(name: string | null): TsigKey | undefined {
    return name === null ? undefined : this.keyring.get(name);
  }
}
