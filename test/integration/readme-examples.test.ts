// The configuration shown in README.md loads: every JSON policy block is validated by the
// real schema and compiled by the real snapshot builder with the seed's nodes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { finishConfig } from '../../src/config/load.js';
import { validate } from '../../src/config/validate.js';
import { GslbPolicy } from '../../src/gslb/policy-model.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { toEdgeNodes } from '../../src/domains/service.js';
import { NodeInput } from '../../src/model/domain.js';
import { Type } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${REPO}README.md`, 'utf8');
const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);

describe('README examples', () => {
  it('every YAML config fragment shown loads as a configuration', () => {
    const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    assert.ok(yamlBlocks.length >= 2);
    for (const text of yamlBlocks) {
      assert.doesNotThrow(
        () => finishConfig({ seed: { dir: null }, ...(parseYaml(text) as object) }),
        text,
      );
    }
  });

  const policies = blocks.filter((b) => b.includes('"pools"'));

  it('shows at least one policy', () => assert.ok(policies.length > 0));

  it('every policy shown validates and compiles with the seed nodes', () => {
    const nodes = toEdgeNodes(
      validate(
        Type.Array(NodeInput),
        JSON.parse(readFileSync(`${REPO}zones/nodes.json`, 'utf8')),
        'nodes',
      ),
    );
    for (const text of policies) {
      const policy = validate(GslbPolicy, JSON.parse(text), 'README policy');
      const snap = buildSnapshot({
        config: finishConfig({}),
        state: { domains: [], nodes, zoneText: null, policy },
        generation: 1,
        serial: 1,
        contentHash: '',
      });
      assert.deepEqual(snap.warnings, []);
      assert.ok(snap.gslb.pools.size >= Object.keys(policy.pools).length);
    }
  });
});
