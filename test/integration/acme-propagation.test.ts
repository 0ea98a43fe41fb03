// The propagation barrier with a real NSD secondary: with acme.propagation.wait, POST /update
// returns only once NSD serves the new serial, so the TXT value is there the moment the
// client tells the CA to look; with the secondary gone it returns after the bounded wait,
// saying which secondary lags.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startNsd, type NsdServer } from '../helpers/nsd.js';
import { freePort } from '../helpers/redis-server.js';
import { nsdConfig } from '../../src/xfr/nsd-config.js';
import { Peers } from '../../src/xfr/peers.js';

const SECRET = randomBytes(32).toString('base64');
const DIGEST = 'LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// `any`: acme-dns replies are asserted field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function post(run: RunningCirrus, path: string, body: unknown, headers = {}): Promise<any> {
  const res = await fetch(run.apiUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('acme-dns /update waits for the secondaries (real NSD)', () => {
  let run: RunningCirrus;
  let nsd: NsdServer;

  before(async () => {
    const nsdPort = await freePort();
    run = await startCirrus({
      xfr: {
        keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret: SECRET }],
        secondaries: [{ name: 'nsd1', address: '127.0.0.1', port: nsdPort, key: 'xfr-key' }],
        notifyRetryMs: 100,
        notifyMaxRetryMs: 500,
        pollIntervalMs: 200,
      },
      acme: { issuer: { enabled: false }, propagation: { wait: true, timeoutMs: 1500 } },
    });
    const config = run.config;
    nsd = await startNsd(
      (_port, serverSettings) =>
        nsdConfig(config, new Peers(config.xfr, null), {
          secondary: 'nsd1',
          master: `127.0.0.1@${run.dnsPort}`,
          serverSettings,
        }),
      nsdPort,
    );
    const serial = run.cirrus.snapshots.current.serial;
    for (let i = 0; i < 200; i++) {
      const soa = (await dig(nsd.port, ['+norec', 'cdn.example.net', 'SOA'])).answer[0];
      if (soa && Number(soa.split(' ')[6]) === serial) break;
      await sleep(50);
    }
  });
  after(async () => {
    await run?.stop();
    await nsd?.stop();
  });

  it('returns once NSD serves the value, and says so', async () => {
    const reg = (await post(run, '/register', {})).json;
    const creds = { 'X-Api-User': reg.username, 'X-Api-Key': reg.password };
    const up = await post(run, '/update', { subdomain: reg.subdomain, txt: DIGEST }, creds);
    assert.equal(up.status, 200);
    assert.equal(up.json.txt, DIGEST);
    assert.equal(up.json.propagation.complete, true, JSON.stringify(up.json));
    assert.equal(up.json.propagation.serial, run.cirrus.snapshots.current.serial);
    assert.deepEqual(
      up.json.propagation.secondaries.map((s: { name: string; current: boolean }) => [
        s.name,
        s.current,
      ]),
      [['nsd1', true]],
    );
    // No waiting here: the barrier already did.
    const atNsd = await dig(nsd.port, ['+norec', reg.fulldomain, 'TXT']);
    assert.deepEqual(atNsd.answer, [`${reg.fulldomain}. 30 IN TXT "${DIGEST}"`]);
  });

  it('with the secondary down, returns after the bounded wait naming the lagging one', async () => {
    await nsd.stop();
    const reg = (await post(run, '/register', {})).json;
    const started = Date.now();
    const up = await post(
      run,
      '/update',
      { subdomain: reg.subdomain, txt: DIGEST },
      { 'X-Api-User': reg.username, 'X-Api-Key': reg.password },
    );
    const took = Date.now() - started;
    assert.equal(up.status, 200);
    assert.equal(up.json.propagation.complete, false);
    assert.equal(up.json.propagation.secondaries[0].current, false);
    assert.ok(took >= 1400 && took < 6000, `waited ${took} ms for a 1500 ms bound`);
  });
});
