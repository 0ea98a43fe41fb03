// Domain and node writes shared by the API and the seed: validation beyond the schema,
// base-label assignment, and the write itself. Reads go straight to the store.
import { checkProbe } from '../config/probe-check.js';
import type { Config } from '../config/schema.js';
import type { DomainRepository } from './repository.js';
import type { ZoneTextRepository } from '../zone/repository.js';
import type { Domain, DomainCreate, DomainUpdate, EdgeNode, NodeInput } from '../model/domain.js';
import { assignLabel } from '../gslb/base-label.js';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js';
import { nameProblem, normalizeName } from '../lib/dnsname.js';
import { canonicalIp, ipFamily } from '../lib/ip.js';
import { parseZoneText } from '../zone/parse.js';
import { probesOwnActive } from '../health/probe-spec.js';
import { checkEdgeFields } from '../model/edge.js';

function checkOrigins(
  origins: DomainCreate['origins'],
  field = 'origins',
): DomainCreate['origins'] {
  return origins.map((o, i) => {
    const ip = canonicalIp(o.address);
    if (ip) return { ...o, address: ip };
    const problem = nameProblem(o.address);
    if (problem)
      throw new ValidationError(
        `${field}[${i}].address is neither an IP address nor a host name: ${problem}`,
        `${field}[${i}].address`,
      );
    return { ...o, address: normalizeName(o.address) };
  });
}

function staticOwners(config: Config, text: string | null): Set<string> {
  if (!text) return new Set();
  try {
    return new Set(
      parseZoneText(text, { origin: config.zone.name, defaultTtl: config.zone.ttl }).map(
        (r) => r.name,
      ),
    );
  } catch {
    return new Set();
  }
}

/** The per-domain GSLB settings present in a body (absent ones stay absent). */
function policyFields(body: Partial<DomainUpdate>): Partial<Domain> {
  const out: Partial<Domain> = {};
  if (body.chain !== undefined) out.chain = body.chain;
  if (body.pools !== undefined) out.pools = body.pools;
  if (body.lastResort !== undefined) out.lastResort = body.lastResort;
  if (body.ecs !== undefined) out.ecs = body.ecs;
  if (body.spread !== undefined) out.spread = body.spread;
  if (body.cache !== undefined) out.cache = body.cache;
  if (body.breaker !== undefined) out.breaker = body.breaker;
  if (body.signing !== undefined) out.signing = body.signing;
  if (body.limits !== undefined) out.limits = body.limits;
  if (body.shield !== undefined) out.shield = body.shield;
  checkEdgeFields(out, 'body');
  return out;
}

/**
 * Labels in use and static owner names, read once for a batch of creations (the seed):
 * reading them per domain would make seeding N domains O(N²).
 */
/** The repositories domain writes check against. */
export interface DomainStores {
  domains: DomainRepository;
  zoneText: ZoneTextRepository;
}

export interface LabelsInUse {
  readonly taken: Set<string>;
  readonly statics: Set<string>;
}

export async function labelsInUse(config: Config, store: DomainStores): Promise<LabelsInUse> {
  const statics = staticOwners(config, await store.zoneText.get(config.zone.name));
  for (const ns of config.zone.ns) statics.add(ns.name);
  return { taken: new Set((await store.domains.list()).map((d) => d.label)), statics };
}

export async function createDomain(
  config: Config,
  store: DomainStores,
  body: DomainCreate,
  now = new Date(),
  /** Shared across a batch and updated here; read from the store when absent. */
  batch?: LabelsInUse,
): Promise<Domain> {
  const name = normalizeName(body.domain);
  const problem = nameProblem(name);
  if (problem) throw new ValidationError(`domain ${problem}`, 'domain');
  if (name === config.zone.name || name.endsWith(`.${config.zone.name}`)) {
    throw new ValidationError(
      `domain must not be inside the CNAME base zone ${config.zone.name}`,
      'domain',
    );
  }
  if (await store.domains.get(name))
    throw new ConflictError(`domain ${name} already exists`, 'domain');
  const { taken, statics } = batch ?? (await labelsInUse(config, store));
  const label = assignLabel(name, (l) => taken.has(l) || statics.has(`${l}.${config.zone.name}`));
  const domain: Domain = {
    domain: name,
    label,
    origins: checkOrigins(body.origins),
    ...(body.ttl === undefined ? {} : { ttl: body.ttl }),
    ...(body.answers === undefined ? {} : { answers: body.answers }),
    ...policyFields(body),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  await store.domains.put(domain);
  taken.add(label);
  return domain;
}

export async function updateDomain(
  store: DomainStores,
  name: string,
  body: Partial<DomainUpdate>,
  replace: boolean,
  now = new Date(),
): Promise<Domain> {
  const current = await store.domains.get(normalizeName(name));
  if (!current) throw new NotFoundError(`domain ${name} does not exist`);
  const next: Domain = replace
    ? {
        domain: current.domain,
        label: current.label,
        createdAt: current.createdAt,
        origins: current.origins,
        updatedAt: '',
      }
    : { ...current };
  if (body.origins) next.origins = checkOrigins(body.origins);
  if (body.ttl !== undefined) next.ttl = body.ttl;
  if (body.answers !== undefined) next.answers = body.answers;
  Object.assign(next, policyFields(body));
  next.updatedAt = now.toISOString();
  await store.domains.put(next);
  return next;
}

/** The stored node for an API/seed node body; a node needs at least one address. */
export function toEdgeNode(input: NodeInput, field = ''): EdgeNode {
  const at = (f: string) => (field ? `${field}.${f}` : f);
  if (!input.ipv4 && !input.ipv6)
    throw new ValidationError(`${at('ipv4')} or ${at('ipv6')} is required`, at('ipv4'));
  if (input.ipv4 && ipFamily(input.ipv4) !== 4)
    throw new ValidationError(`${at('ipv4')} is not IPv4`, at('ipv4'));
  if (input.ipv6 && ipFamily(input.ipv6) !== 6)
    throw new ValidationError(`${at('ipv6')} is not IPv6`, at('ipv6'));
  if (input.probe) checkProbe(input.probe, at('probe'));
  return {
    id: input.id,
    ...(input.ipv4 ? { ipv4: canonicalIp(input.ipv4) as string } : {}),
    ...(input.ipv6 ? { ipv6: canonicalIp(input.ipv6) as string } : {}),
    pool: input.pool,
    ...(input.region === undefined ? {} : { region: input.region }),
    weight: input.weight,
    active: input.active,
    ...(input.mode === 'auto' ? {} : { mode: input.mode }),
    ...(input.probe === undefined ? {} : { probe: input.probe }),
  };
}

export function toEdgeNodes(inputs: NodeInput[]): EdgeNode[] {
  const seen = new Set<string>();
  return inputs.map((n, i) => {
    if (seen.has(n.id)) throw new ValidationError(`[${i}].id "${n.id}" appears twice`, `[${i}].id`);
    seen.add(n.id);
    return toEdgeNode(n, `[${i}]`);
  });
}

/**
 * The node as a write stores it. For a node the probes own (health checks on, effective
 * probe type not 'none') the body's `active` is ignored: an existing node keeps its stored
 * value, a new one starts up unless `health.startup` is 'down'. Other nodes take the body's.
 */
export function withOwnedActive(
  config: Config,
  node: EdgeNode,
  existing: EdgeNode | undefined,
): EdgeNode {
  if (!probesOwnActive(config, node)) return node;
  return { ...node, active: existing ? existing.active : config.health.startup !== 'down' };
}
