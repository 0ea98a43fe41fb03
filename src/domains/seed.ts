// Seeds an empty store from a folder (default `zones/`): `records.zone` (static records,
// owner names relative to the configured zone), `domains.json`, `nodes.json` and
// `policy.json` (the GSLB policy document). A store that holds anything is left alone, so
// restarts never undo operator changes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import { DomainCreate, NodeInput } from '../model/domain.js';
import { GslbPolicy } from '../gslb/policy-model.js';
import type { PolicyRepository } from '../gslb/policy-repository.js';
import { validate } from '../config/validate.js';
import type { NodeRepository } from './repository.js';
import {
  createDomain,
  labelsInUse,
  toEdgeNodes,
  withOwnedActive,
  type DomainStores,
} from './service.js';
import { parseZoneText } from '../zone/parse.js';
import { CirrusError, errorMessage } from '../lib/errors.js';

/** Records that the seed step ran for this store (and from where, or why it was skipped). */
export const SEEDED_KEY = 'cdn:meta:seeded';

/** What seeding writes to. */
export interface SeedStores extends DomainStores {
  store: Store;
  nodes: NodeRepository;
  policy: PolicyRepository;
}

/** True when the store holds no domain, node, policy or text of `zone`: the seed may fill it. */
export async function isEmpty(r: SeedStores, zone: string): Promise<boolean> {
  const [domains, nodes, text, policy] = await Promise.all([
    r.domains.count(),
    r.nodes.count(),
    r.zoneText.get(zone),
    r.policy.exists(),
  ]);
  return domains === 0 && nodes === 0 && text === null && !policy;
}

const setSeeded = (r: SeedStores, value: string) =>
  r.store.write([{ op: 'set', key: SEEDED_KEY, value }]);

export interface SeedResult {
  seeded: boolean;
  domains: number;
  nodes: number;
  records: number;
  /** Whether a policy.json was stored. */
  policy: boolean;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CirrusError('VALIDATION', `seed file ${file}: ${errorMessage(err)}`, { status: 400 });
  }
}

export async function seedStore(
  config: Config,
  store: SeedStores,
  dir: string,
): Promise<SeedResult> {
  const none = { seeded: false, domains: 0, nodes: 0, records: 0, policy: false };
  // Seed once per deployment: an operator who later deletes everything keeps an empty store.
  if (!existsSync(dir) || (await store.store.exists(SEEDED_KEY))) return none;
  if (!(await isEmpty(store, config.zone.name))) {
    await setSeeded(store, `skipped: store not empty at ${new Date().toISOString()}`);
    return none;
  }
  const recordsFile = join(dir, 'records.zone');
  const domainsFile = join(dir, 'domains.json');
  const nodesFile = join(dir, 'nodes.json');
  const policyFile = join(dir, 'policy.json');
  let records = 0;
  // Validate everything before writing anything: a bad seed leaves the store empty.
  const text = existsSync(recordsFile) ? readFileSync(recordsFile, 'utf8') : undefined;
  if (text !== undefined) {
    try {
      records = parseZoneText(text, {
        origin: config.zone.name,
        defaultTtl: config.zone.ttl,
      }).length;
    } catch (err) {
      throw new CirrusError('VALIDATION', `seed file ${recordsFile}: ${errorMessage(err)}`, {
        status: 400,
      });
    }
  }
  const domains = existsSync(domainsFile)
    ? validate(Type.Array(DomainCreate), readJson(domainsFile), `seed file ${domainsFile}`)
    : [];
  // Seeded nodes are new nodes: a probed one starts as health.startup says, as over the API.
  const nodes = existsSync(nodesFile)
    ? toEdgeNodes(
        validate(Type.Array(NodeInput), readJson(nodesFile), `seed file ${nodesFile}`),
      ).map((n) => withOwnedActive(config, n, undefined))
    : [];
  const policy = existsSync(policyFile)
    ? validate(GslbPolicy, readJson(policyFile), `seed file ${policyFile}`)
    : undefined;
  // The policy first: domains and nodes name its pools.
  if (policy) await store.policy.put(policy);
  if (text !== undefined) await store.zoneText.put(config.zone.name, text);
  if (nodes.length) await store.nodes.replace(nodes);
  const batch = await labelsInUse(config, store);
  for (const d of domains) await createDomain(config, store, d, new Date(), batch);
  await setSeeded(store, `${dir} at ${new Date().toISOString()}`);
  return {
    seeded: true,
    domains: domains.length,
    nodes: nodes.length,
    records,
    policy: policy !== undefined,
  };
}
