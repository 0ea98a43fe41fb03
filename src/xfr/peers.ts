// Who the hidden master talks to: TSIG keys, secondaries (NOTIFY targets that may
// transfer) and further transfer clients, merged from the config (fixed) and the store
// (managed through the API). It decides consistency (names unique, keys that exist,
// addresses that parse) and the transfer ACL; it does no I/O.
import { isIP } from 'node:net';
import type { SecondaryConfig, TsigKeyConfig, XfrConfig } from '../config/schema.js';
import { CidrSet, parseCidr } from '../lib/cidr.js';
import { errorMessage } from '../lib/errors.js';
import { normalizeName } from '../lib/dnsname.js';
import { TsigKeyring, type TsigKey } from '../wire/tsig.js';

/** The API-managed part, stored whole as one document (`cdn:xfr:peers`). */
export interface PeersDocument {
  keys: TsigKeyConfig[];
  secondaries: SecondaryConfig[];
}

export interface PeerProblem {
  field: string;
  message: string;
}

/** The first inconsistency in a set of keys, secondaries and allow entries, if any. */
export function peersProblem(
  keys: readonly TsigKeyConfig[],
  secondaries: readonly SecondaryConfig[],
  allow: XfrConfig['allow'],
  prefix: string,
): PeerProblem | undefined {
  const keyNames = new Set<string>();
  for (const [i, k] of keys.entries()) {
    const name = normalizeName(k.name);
    if (keyNames.has(name))
      return { field: `${prefix}keys[${i}].name`, message: `key ${name} is defined twice` };
    keyNames.add(name);
    if (Buffer.from(k.secret, 'base64').length < 16)
      return { field: `${prefix}keys[${i}].secret`, message: 'secret is shorter than 16 octets' };
  }
  const names = new Set<string>();
  for (const [i, s] of secondaries.entries()) {
    const at = `${prefix}secondaries[${i}]`;
    if (names.has(s.name)) return { field: `${at}.name`, message: `${s.name} is defined twice` };
    names.add(s.name);
    if (!isIP(s.address))
      return { field: `${at}.address`, message: `"${s.address}" is not an IP address` };
    if (s.key !== null && !keyNames.has(normalizeName(s.key)))
      return { field: `${at}.key`, message: `no TSIG key named ${s.key}` };
  }
  for (const [i, a] of allow.entries()) {
    try {
      parseCidr(a.cidr);
    } catch (err) {
      return { field: `${prefix}allow[${i}].cidr`, message: errorMessage(err) };
    }
    if (a.key !== null && !keyNames.has(normalizeName(a.key)))
      return { field: `${prefix}allow[${i}].key`, message: `no TSIG key named ${a.key}` };
  }
  return undefined;
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
  private readonly acl: readonly AclEntry[];

  constructor(config: XfrConfig, doc: PeersDocument | null) {
    const keys = [...config.keys, ...(doc?.keys ?? [])];
    this.keyring = new TsigKeyring(keys.map(toTsigKey));
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
   * key, so such an address never transfers unsigned or with another key.
   */
  mayTransfer(address: string, keyName: string | undefined): boolean {
    return this.acl.some((e) => e.cidrs.has(address) && (e.key === null || e.key === keyName));
  }

  key(name: string | null): TsigKey | undefined {
    return name === null ? undefined : this.keyring.get(name);
  }
}
