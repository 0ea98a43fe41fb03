// The consistency of the transfer peers (xfr.keys, xfr.secondaries, xfr.allow): names unique,
// keys that exist and are long enough, addresses and CIDRs that parse. The config file and
// the secondaries API check their documents with the same function.
import { isIP } from 'node:net';
import type { SecondaryConfig, TsigKeyConfig, UpdateScopeConfig, XfrConfig } from './schema.js';
import { RRType, typeFromName, typeName } from '../wire/constants.js';
import { parseCidr } from '../lib/cidr.js';
import { errorMessage } from '../lib/errors.js';
import { isSubdomainOf, nameProblem, normalizeName } from '../lib/dnsname.js';

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
  zone: string,
): PeerProblem | undefined {
  const keyNames = new Set<string>();
  for (const [i, k] of keys.entries()) {
    const name = normalizeName(k.name);
    if (keyNames.has(name))
      return { field: `${prefix}keys[${i}].name`, message: `key ${name} is defined twice` };
    keyNames.add(name);
    if (Buffer.from(k.secret, 'base64').length < 16)
      return { field: `${prefix}keys[${i}].secret`, message: 'secret is shorter than 16 octets' };
    const scope = k.update && updateScopeProblem(k.update, zone);
    if (scope) return { field: `${prefix}keys[${i}].update.${scope[0]}`, message: scope[1] };
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

/** Types a scope may never list: meta types, and the SOA (the zone's, from the config). */
const NOT_UPDATABLE = new Set<number>([
  RRType.SOA,
  RRType.OPT,
  RRType.TSIG,
  RRType.IXFR,
  RRType.AXFR,
  RRType.MAILA,
  RRType.MAILB,
  RRType.ANY,
]);

/** The first problem of a key's UPDATE scope for the zone `zone`: [field in it, message]. */
export function updateScopeProblem(
  scope: UpdateScopeConfig,
  zone: string,
): [string, string] | undefined {
  for (const [i, raw] of scope.names.entries()) {
    const n = normalizeName(raw);
    const base = n.startsWith('*.') ? n.slice(2) : n;
    const problem = nameProblem(base);
    if (problem) return [`names[${i}]`, `"${raw}" ${problem}`];
    if (!isSubdomainOf(base, zone)) return [`names[${i}]`, `"${raw}" is outside the zone ${zone}`];
  }
  for (const [i, t] of scope.types.entries()) {
    const type = typeFromName(t);
    if (type === undefined) return [`types[${i}]`, `unknown record type "${t}"`];
    if (NOT_UPDATABLE.has(type))
      return [`types[${i}]`, `${typeName(type)} cannot be changed by UPDATE`];
  }
  return undefined;
}
