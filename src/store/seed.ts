// Seeds an empty store from a folder (default `zones/`): `records.zone` (static records,
// owner names relative to the configured zone), `domains.json`, `nodes.json` and
// `policy.json` (the GSLB policy document). A store that holds anything is left alone, so
// restarts never undo operator changes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config/schema.js';
import type { Store } from './store.js';
import { DomainCreate, NodeInput } from './model.js';
import { GslbPolicy } from '../gslb/policy-model.js';
import { validate } from '../config/validate.js';
import { createDomain, labelsInUse, toEdgeNodes, withOwnedActive } from '../domains/service.js';
import { parseZoneText } from '../zone/parse.js';
import { CirrusError, errorMessage } from '../lib/errors.js';

/** Meta key recording that the seed step ran for this store. */
export const SEEDED = 'seeded';

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

export async function seedStore(config: Config, store: Store, dir: string): Promise<SeedResult> {
  const none = { seeded: false, domains: 0, nodes: 0, records: 0, policy: false };
  // Seed once per deployment: an operator who later deletes everything keeps an empty store.
  if (!existsSync(dir) || (await store.getMeta(SEEDED)) !== undefined) return none;
  if (!(await store.isEmpty(config.zone.name))) {
    await store.setMeta(SEEDED, `skipped: store not empty at ${new Date().toISOString()}`);
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
  if (policy) await store.putPolicy(policy);
  if (text !== undefined) await store.putZoneText(config.zone.name, text);
  if (nodes.length) await store.replaceNodes(nodes);
  const batch = await labelsInUse(config, store);
  for (const d of domains) await createDomain(config, store, d, new Date(), batch);
  await store.setMeta(SEEDED, `${dir} at ${new Date().toISOString()}`);
  return {
    seeded: true,
    domains: domains.length,
    nodes: nodes.length,
    records,
    policy: policy !== undefined,
  };
}
