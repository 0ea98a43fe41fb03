// The consistency of the transfer peers (xfr.keys, xfr.secondaries, xfr.allow): names unique,
// keys that exist and are long enough, addresses and CIDRs that parse. The config file and
// the secondaries API check their documents with the same function.
import { isIP } from 'node:net';
import type { SecondaryConfig, TsigKeyConfig, XfrConfig } from './schema.js';
import { parseCidr } from '../lib/cidr.js';
import { errorMessage } from '../lib/errors.js';
import { normalizeName } from '../lib/dnsname.js';

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
