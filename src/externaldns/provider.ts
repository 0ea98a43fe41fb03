// The ExternalDNS webhook provider's four operations over Cirrus's state: the domain filter,
// the records, AdjustEndpoints and ApplyChanges. Endpoints become RRsets of the static zone
// text (`cdn:zonefile:{zone}`) or, with the `webhook/cirrus-domain` property, the origins of
// a GSLB domain; the HTTP contract itself (media type, status codes) belongs to the API.
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import type { Domain, Origin } from '../model/domain.js';
import type { DomainRepository } from '../domains/repository.js';
import type { ZoneTextRepository } from '../zone/repository.js';
import { parseZoneText } from '../zone/parse.js';
import { buildSnapshot } from '../snapshot/build.js';
import type { StoreState } from '../snapshot/source.js';
import { BlastRadiusError, type Breach } from '../snapshot/publish-gate.js';
import { formatRecord, type ResourceRecord } from '../wire/record.js';
import { fqdn } from '../lib/dnsname.js';
import { ConflictError, ValidationError, errorMessage } from '../lib/errors.js';
import {
  DOMAIN_PROPERTY,
  EndpointRefusal,
  STATIC_TYPE_CODES,
  TYPE_OF_FAMILY,
  classify,
  originFamily,
  targetOf,
  typeText,
  type Changes,
  type Classified,
  type Endpoint,
  type OriginFamily,
  type ZoneFacts,
} from './endpoint.js';

export interface ExternalDnsDeps {
  config: Config;
  zoneText: ZoneTextRepository;
  domains: DomainRepository;
  /** The store's content as the snapshot builder reads it, for trial builds. */
  loadState: () => Promise<StoreState>;
  /** Resolves when a snapshot with every write made so far is live. */
  flush: () => Promise<void>;
  /** The publish gate's bounds a change alone would cross; absent: not checked. */
  checkWrite?: ((change: (state: StoreState) => StoreState) => Breach[]) | undefined;
  logger: Logger;
  registry: Registry;
}

/** The JSON of Go's endpoint.DomainFilter, plus the OpenAPI document's `filters`. */
export interface DomainFilterBody {
  /** What external-dns's client decodes (endpoint.DomainFilter's UnmarshalJSON). */
  include: string[];
  exclude?: string[];
  /** The name api/webhook.yaml gives the list; Go's decoder ignores it. */
  filters: string[];
}

/** How often the zone text is re-read and the change re-applied when another writer won. */
const WRITE_ATTEMPTS = 5;

type StaticChange = Extract<Classified, { kind: 'static' }>;
type DomainChange = Extract<Classified, { kind: 'domain' }>;
type ListName = 'create' | 'updateOld' | 'updateNew' | 'delete';

export class ExternalDnsProvider {
  private readonly refused: Counter<'reason'>;
  private readonly applied: Counter<'result'>;

  constructor(private readonly deps: ExternalDnsDeps) {
    this.refused = new Counter({
      name: 'cirrus_externaldns_endpoints_refused_total',
      help: 'ExternalDNS endpoints left out by /adjustendpoints or refused by POST /records, by reason',
      labelNames: ['reason'],
      registers: [deps.registry],
    });
    this.applied = new Counter({
      name: 'cirrus_externaldns_changes_total',
      help: 'ExternalDNS change sets (POST /records), by result',
      labelNames: ['result'],
      registers: [deps.registry],
    });
  }

  private get zone(): string {
    return this.deps.config.zone.name;
  }

  /** The served zone; the ACME challenge zone inside it is excluded. */
  domainFilter(): DomainFilterBody {
    const acme = this.deps.config.acme.zone;
    const exclude = acme && acme.endsWith(`.${this.zone}`) ? [acme] : [];
    return {
      include: [this.zone],
      ...(exclude.length ? { exclude } : {}),
      filters: [this.zone],
    };
  }

  private async facts(domains?: readonly Domain[]): Promise<ZoneFacts> {
    const list = domains ?? (await this.deps.domains.list());
    return { baseNames: new Map(list.map((d) => [`${d.label}.${this.zone}`, d.domain])) };
  }

  private parse(text: string | null): ResourceRecord[] {
    if (!text) return [];
    return parseZoneText(text, { origin: this.zone, defaultTtl: this.deps.config.zone.ttl });
  }

  /** Every RRset ExternalDNS can manage, then each GSLB domain's origins by family. */
  async records(): Promise<Endpoint[]> {
    const domains = await this.deps.domains.list();
    const facts = await this.facts(domains);
    const sets = new Map<string, ResourceRecord[]>();
    for (const r of this.parse(await this.deps.zoneText.get(this.zone))) {
      if (!STATIC_TYPE_CODES.has(r.type) || facts.baseNames.has(r.name)) continue;
      const key = `${r.name}\0${r.type}`;
      const set = sets.get(key);
      if (set) set.push(r);
      else sets.set(key, [r]);
    }
    const out: Endpoint[] = [];
    for (const set of sets.values()) {
      const first = set[0] as ResourceRecord;
      out.push({
        dnsName: first.name,
        targets: set.map(targetOf),
        recordType: typeText(first.type),
        // RFC 2181 §5.2: the set's TTL is its first record's (ZoneData keeps the same rule).
        recordTTL: first.ttl,
      });
    }
    for (const d of domains) {
      for (const family of ['ipv4', 'ipv6', 'name'] as const) {
        const targets = d.origins.map((o) => o.address).filter((a) => originFamily(a) === family);
        if (!targets.length) continue;
        out.push({
          dnsName: `${d.label}.${this.zone}`,
          targets,
          recordType: TYPE_OF_FAMILY[family],
          recordTTL: d.ttl ?? this.deps.config.gslb.ttl,
          providerSpecific: [{ name: DOMAIN_PROPERTY, value: d.domain }],
        });
      }
    }
    return out;
  }

  private refuse(err: EndpointRefusal, ep: Endpoint): void {
    this.refused.inc({ reason: err.reason });
    this.deps.logger.warn(
      { dnsName: ep.dnsName, recordType: ep.recordType, reason: err.reason },
      `externaldns: endpoint left out: ${err.message}`,
    );
  }

  /**
   * The endpoints Cirrus can hold, normalised the way records() reports them (lower-case
   * names, the canonical domain property, no properties Cirrus does not read), so
   * ExternalDNS's plan sees no difference once they are applied. The rest are left out,
   * logged and counted by reason.
   */
  async adjust(endpoints: readonly Endpoint[]): Promise<Endpoint[]> {
    const facts = await this.facts();
    const out: Endpoint[] = [];
    endpoints.forEach((ep, i) => {
      try {
        const c = classify(this.deps.config, facts, ep, `[${i}]`);
        const { providerSpecific: _dropped, ...rest } = ep;
        out.push({
          ...rest,
          dnsName: c.name,
          recordType: c.kind === 'static' ? c.typeName : TYPE_OF_FAMILY[c.family],
          ...(c.kind === 'domain'
            ? { providerSpecific: [{ name: DOMAIN_PROPERTY, value: c.domain }] }
            : {}),
        });
      } catch (err) {
        if (!(err instanceof EndpointRefusal)) throw err;
        this.refuse(err, ep);
      }
    });
    return out;
  }

  /**
   * Applies a change set: every endpoint is checked first and any refusal fails the whole
   * set (400 naming the field) before anything is written. Deleted and old records leave,
   * new ones are added; a static change is written with a condition on the text it was
   * computed from (re-applied when another writer got there first), after a trial build.
   * Resolves once a snapshot holding the change is live.
   */
  async apply(changes: Changes): Promise<void> {
    try {
      await this.applyChecked(changes);
      this.applied.inc({ result: 'applied' });
    } catch (err) {
      this.applied.inc({ result: 'refused' });
      throw err;
    }
  }

  private async applyChecked(changes: Changes): Promise<void> {
    const domains = await this.deps.domains.list();
    const facts = await this.facts(domains);
    // Base names are checked against the zone as it will be after the change (an endpoint
    // may move from a domain to a plain record, or back, in one update), so not here.
    const noBaseNames: ZoneFacts = { baseNames: new Map() };
    const lists: Record<ListName, { c: Classified; at: string }[]> = {
      create: [],
      updateOld: [],
      updateNew: [],
      delete: [],
    };
    for (const list of ['create', 'updateOld', 'updateNew', 'delete'] as const) {
      for (const [i, ep] of (changes[list] ?? []).entries()) {
        const at = `${list}[${i}]`;
        try {
          lists[list].push({ c: classify(this.deps.config, noBaseNames, ep, at), at });
        } catch (err) {
          if (!(err instanceof EndpointRefusal)) throw err;
          this.refused.inc({ reason: err.reason });
          throw new ValidationError(err.message, err.field);
        }
      }
    }
    type Item = { c: Classified; at: string };
    const only = <K extends Classified['kind']>(k: K, l: Item[]) =>
      l.map((x) => x.c).filter((c): c is Extract<Classified, { kind: K }> => c.kind === k);
    const removals = [...lists.delete, ...lists.updateOld];
    const additions = [...lists.updateNew, ...lists.create];

    const domainPlan = this.planDomains(
      domains,
      only('domain', removals),
      only('domain', additions),
    );
    const staticRemovals = only('static', removals);
    const staticAdditions = only('static', additions);
    // Names that will be base names afterwards: no plain record may land on one.
    const finalBase = new Map(facts.baseNames);
    for (const d of domainPlan.deletes) finalBase.delete(`${d.label}.${this.zone}`);
    for (const d of domainPlan.puts) finalBase.set(`${d.label}.${this.zone}`, d.domain);
    for (const { c, at } of additions) {
      const owner = c.kind === 'static' ? finalBase.get(c.name) : undefined;
      if (owner === undefined) continue;
      this.refused.inc({ reason: 'base_name' });
      throw new ValidationError(
        `${at}.dnsName ${c.name} is the base name of the GSLB domain ${owner}; it is managed through that domain`,
        `${at}.dnsName`,
      );
    }

    // Domain deletions the publish gate would hold are refused before anything is written
    // (as the admin API does without force=true): ExternalDNS cannot release a held change.
    if (this.deps.checkWrite && domainPlan.deletes.length) {
      const gone = new Set(domainPlan.deletes.map((d) => d.domain));
      const found = this.deps.checkWrite((s) => ({
        ...s,
        domains: [...s.domains.filter((d) => !gone.has(d.domain)), ...domainPlan.puts],
      }));
      if (found.length) throw new BlastRadiusError(found);
    }

    // A new domain's base name must be free of static records (createDomain's label rule),
    // as the static records will be after this change.
    const fresh = domainPlan.puts.filter((d) => !domains.some((x) => x.domain === d.domain));
    if (fresh.length) {
      const after = this.edit(
        this.parse(await this.deps.zoneText.get(this.zone)),
        staticRemovals,
        staticAdditions,
      );
      const statics = new Set(this.parse(after).map((r) => r.name));
      for (const ns of this.deps.config.zone.ns) statics.add(ns.name);
      for (const d of fresh) {
        if (statics.has(`${d.label}.${this.zone}`)) {
          throw new ConflictError(
            `${d.label}.${this.zone} holds static records; the GSLB domain ${d.domain} cannot be served there`,
          );
        }
      }
    }

    // The static write goes first: its trial build is the last check that can refuse.
    if (staticRemovals.length || staticAdditions.length) {
      await this.writeStatic(staticRemovals, staticAdditions, domainPlan.puts);
    }
    for (const d of domainPlan.deletes) await this.deps.domains.delete(d.domain);
    for (const d of domainPlan.puts) await this.deps.domains.put(d);
    await this.deps.flush();
  }

  /** The GSLB domains to write and to delete once the change is applied. */
  private planDomains(
    current: readonly Domain[],
    removals: readonly DomainChange[],
    additions: readonly DomainChange[],
  ): { puts: Domain[]; deletes: Domain[] } {
    const byName = new Map(current.map((d) => [d.domain, d]));
    const byLabel = new Map(current.map((d) => [d.label, d]));
    const next = new Map<string, Domain>();
    const now = new Date().toISOString();
    const working = (c: DomainChange): Domain => {
      const have = next.get(c.domain);
      if (have) return have;
      const existing = byName.get(c.domain);
      if (existing && existing.label !== c.label) {
        throw new ConflictError(
          `the GSLB domain ${c.domain} is served at ${existing.label}.${this.zone}, not ${c.name}`,
        );
      }
      const holder = byLabel.get(c.label);
      if (holder && holder.domain !== c.domain) {
        throw new ConflictError(`${c.name} is the base name of the GSLB domain ${holder.domain}`);
      }
      const d: Domain = existing
        ? { ...existing, origins: [...existing.origins] }
        : { domain: c.domain, label: c.label, origins: [], createdAt: now, updatedAt: now };
      next.set(c.domain, d);
      return d;
    };
    for (const c of removals) {
      const d = working(c);
      const gone = new Set(c.targets);
      d.origins = d.origins.filter(
        (o) => !(originFamily(o.address) === c.family && gone.has(o.address)),
      );
    }
    for (const c of additions) {
      const d = working(c);
      for (const address of c.targets) {
        if (d.origins.some((o) => o.address === address)) continue;
        const origin: Origin = { address, protocol: 'http', weight: 1, backup: false };
        d.origins.push(origin);
      }
      if (c.ttl > 0) d.ttl = Math.min(c.ttl, 86400);
    }
    const puts: Domain[] = [];
    const deletes: Domain[] = [];
    for (const d of next.values()) {
      if (d.origins.length === 0) {
        if (byName.has(d.domain)) deletes.push(d);
      } else if (d.origins.length > 64) {
        throw new ValidationError(`the GSLB domain ${d.domain} would have more than 64 origins`);
      } else puts.push({ ...d, updatedAt: now });
    }
    return { puts, deletes };
  }

  private async writeStatic(
    removals: readonly StaticChange[],
    additions: readonly StaticChange[],
    domainPuts: readonly Domain[],
  ): Promise<void> {
    const result = await this.deps.zoneText.edit(
      this.zone,
      async (before) => {
        const text = this.edit(this.parse(before), removals, additions);
        const state = await this.deps.loadState();
        const names = new Set(domainPuts.map((d) => d.domain));
        try {
          buildSnapshot({
            config: this.deps.config,
            state: {
              ...state,
              zoneText: text,
              domains: [...state.domains.filter((d) => !names.has(d.domain)), ...domainPuts],
            },
            generation: 0,
            serial: 0,
            // A trial build only validates: no serial is claimed, so no digest is needed.
            contentHash: '',
          });
        } catch (err) {
          throw new ValidationError(`the change would not build: ${errorMessage(err)}`);
        }
        return { text, result: 'written' as const };
      },
      { attempts: WRITE_ATTEMPTS, pauseMs: 0 },
    );
    if (result === 'conflict')
      throw new ConflictError(
        `the static records of ${this.zone} kept changing under this change; try again`,
      );
  }

  /** The zone text with `removals` taken out and `additions` put in, one record a line. */
  private edit(
    records: ResourceRecord[],
    removals: readonly StaticChange[],
    additions: readonly StaticChange[],
  ): string {
    let out = [...records];
    const parseOne = (c: StaticChange, rdata: string, ttl: number): ResourceRecord =>
      this.parse(`${fqdn(c.name)} ${ttl} IN ${c.typeName} ${rdata}\n`)[0] as ResourceRecord;
    for (const c of removals) {
      const gone = c.rdata.map((r) => parseOne(c, r, 0).rdata);
      out = out.filter(
        (r) => !(r.name === c.name && r.type === c.type && gone.some((g) => g.equals(r.rdata))),
      );
    }
    for (const c of additions) {
      const existing = out.filter((r) => r.name === c.name && r.type === c.type);
      // RFC 2181 §5.2: one TTL per RRset; a configured TTL applies to the whole set.
      const ttl = c.ttl > 0 ? c.ttl : (existing[0]?.ttl ?? this.deps.config.zone.ttl);
      out = out.map((r) => (r.name === c.name && r.type === c.type ? { ...r, ttl } : r));
      for (const rd of c.rdata) {
        const rec = parseOne(c, rd, ttl);
        if (
          !out.some((r) => r.name === rec.name && r.type === rec.type && r.rdata.equals(rec.rdata))
        )
          out.push(rec);
      }
    }
    return out.map((r) => formatRecord(r)).join('\n') + (out.length ? '\n' : '');
  }
}

export type { Changes, Endpoint, OriginFamily };
