// The nodes API where health checking meets it: the view shows mode, probe overrides and
// the checker's record (read-only), and for nodes the probes own a body's `active` is
// ignored. The checker's writes are made directly on the store, as the checker makes them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { until } from '../helpers/edge-server.js';
import type { NodeHealth } from '../../src/model/domain.js';

const down: NodeHealth = {
  state: 'down',
  okStreak: 0,
  failStreak: 3,
  checks: 12,
  failures: 3,
  lastError: 'connect ECONNREFUSED 192.0.2.1:80',
  lastChange: '2024-03-01T00:00:00.000Z',
  lastCheck: '2024-03-01T00:00:10.000Z',
};

// Probes on (the defaults), at an interval no test waits for and without the quick recheck:
// `active` belongs to the probes, and a new node's one immediate probe (which fails: nobody
// serves 192.0.2.0/24) is its only one during the tests.
const probed = { health: { recheckMs: 0, probe: { intervalSec: 3600 } } };

describe('nodes API with health checks on', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus(probed);
  });
  after(() => run.stop());

  it('a new probed node starts up whatever the body says, and shows who owns active', async () => {
    const res = await api(run, 'PUT', '/api/v1/nodes/n1', { ipv4: '192.0.2.1', active: false });
    assert.equal(res.status, 201);
    assert.deepEqual(res.json, {
      id: 'n1',
      ipv4: '192.0.2.1',
      pool: 'default',
      weight: 100,
      active: true,
      mode: 'auto',
      activeBy: 'probes',
    });
  });

  it('keeps the stored active on PATCH and PUT, and shows the checker’s record', async () => {
    // The immediate probe of the new node is recorded first; it keeps `active` (state unknown).
    await until(
      'the first probe of n1 recorded',
      async () => (await run.cirrus.repos.nodes.get('n1'))?.health?.checks === 1,
    );
    assert.equal((await run.cirrus.repos.nodes.get('n1'))?.active, true);
    assert.equal(await run.cirrus.repos.nodes.setHealth('n1', false, down), true);
    const patched = await api(run, 'PATCH', '/api/v1/nodes/n1', { active: true, mode: 'drain' });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.active, false, 'the probes said down');
    assert.equal(patched.json.mode, 'drain');
    assert.deepEqual(patched.json.health, down);

    const put = await api(run, 'PUT', '/api/v1/nodes/n1', { ipv4: '192.0.2.9', active: true });
    assert.equal(put.status, 200);
    assert.equal(put.json.active, false);
    assert.equal(put.json.mode, 'auto', 'PUT replaces the mode too');
    assert.deepEqual(put.json.health, down, 'a config write keeps the health record');
    assert.deepEqual((await api(run, 'GET', '/api/v1/nodes/n1')).json.health, down);
  });

  it('PUT /nodes keeps stored actives and starts new probed nodes up', async () => {
    const res = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'n1', ipv4: '192.0.2.1', active: true },
      { id: 'n2', ipv4: '192.0.2.2', active: false },
      { id: 'n3', ipv4: '192.0.2.3', active: false, probe: { type: 'none' } },
    ]);
    assert.equal(res.status, 200);
    const byId = Object.fromEntries(
      (res.json as Array<{ id: string; active: boolean; activeBy: string }>).map((n) => [n.id, n]),
    );
    assert.equal(byId.n1?.active, false);
    assert.equal(byId.n2?.active, true);
    assert.equal(byId.n3?.active, false, "probe type 'none': the API's value");
    assert.equal(byId.n3?.activeBy, 'api');
  });

  it("a node switched to probe type 'none' takes active from the API again", async () => {
    const none = await api(run, 'PATCH', '/api/v1/nodes/n1', { probe: { type: 'none' } });
    assert.equal(none.json.activeBy, 'api');
    assert.deepEqual(none.json.probe, { type: 'none' }, 'overrides only, no defaults filled in');
    const on = await api(run, 'PATCH', '/api/v1/nodes/n1', { active: true });
    assert.equal(on.json.active, true);
  });

  it('shows probe overrides as given and refuses a body that writes health', async () => {
    const probe = { type: 'https', port: 8443, host: 'edge.example.net', expect: [200, 204] };
    const res = await api(run, 'PUT', '/api/v1/nodes/n4', { ipv4: '192.0.2.4', probe });
    assert.equal(res.status, 201);
    assert.deepEqual(res.json.probe, probe);
    const bad = await api(run, 'PATCH', '/api/v1/nodes/n4', { health: down });
    assert.equal(bad.status, 400);
    const badProbe = await api(run, 'PATCH', '/api/v1/nodes/n4', { probe: { type: 'icmp' } });
    assert.equal(badProbe.status, 400);
  });
});

describe("nodes API with health.startup 'down'", () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ health: { startup: 'down', probe: { intervalSec: 3600 } } });
  });
  after(() => run.stop());

  it('a new probed node starts down until the probes bring it up', async () => {
    const res = await api(run, 'PUT', '/api/v1/nodes/n1', { ipv4: '192.0.2.1', active: true });
    assert.equal(res.status, 201);
    assert.equal(res.json.active, false);
  });
});
