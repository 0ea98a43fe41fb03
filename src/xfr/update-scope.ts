// What one TSIG key may change in the static zone by RFC 2136 UPDATE: owner names (exact,
// or `*.name` for every name strictly below name) and record types. Compiled once per set
// of peers; it decides coverage only. What no key may change (the apex SOA/NS, base names,
// the ACME zone) is xfr/update.ts's rule.
import type { UpdateScopeConfig } from '../config/schema.js';
import { typeFromName } from '../wire/constants.js';
import { normalizeName } from '../lib/dnsname.js';

export class UpdateScope {
  private readonly exact = new Set<string>();
  /** `.name` of every `*.name` entry: a covered owner ends with it. */
  private readonly below: string[] = [];
  readonly types: ReadonlySet<number>;
  readonly transfer: boolean;

  constructor(config: UpdateScopeConfig) {
    for (const raw of config.names) {
      const n = normalizeName(raw);
      if (n.startsWith('*.')) this.below.push(n.slice(1));
      else this.exact.add(n);
    }
    this.types = new Set(config.types.map((t) => typeFromName(t) as number));
    this.transfer = config.transfer;
  }

  coversName(name: string): boolean {
    return this.exact.has(name) || this.below.some((s) => name.endsWith(s));
  }

  coversType(type: number): boolean {
    return this.types.has(type);
  }
}
