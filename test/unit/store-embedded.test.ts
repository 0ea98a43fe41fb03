// The embedded store against the shared contract, plus what only a file-backed store does:
// survive restarts, pick up another process's writes, refuse a corrupt file.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { StoreChange } from '../../src/store/store.js';
import { domain, node, storeContract } from '../store-contract.js';

const root = mkdtempSync(join(tmpdir(), 'cirrus-embedded-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh state file in a directory that does not exist yet: start() must create it. */
const freshFile = () => join(root, `case-${++n}`, 'state.json');
const open = (file: string) => new EmbeddedStore({ file, watchIntervalMs: 100 });

storeContract('embedded (JSON file)', async () => {
  const file = freshFile();
  const store = open(file);
  await store.start();
  return {
    store,
    cleanup: () => store.stop(),
    // A store opening the file reads what has been written: flush instead of waiting out
    // the write-behind delay.
    reopen: async () => {
      await store.flush();
      return open(file);
    },
  };
});

describe('EmbeddedStore in memory only', () => {
  it('works without a file and forgets everything on stop', async () => {
    const store = new EmbeddedStore();
    await store.start();
    await store.putDomain(domain('a.example.com'));
    assert.equal(await store.advanceSerial('z.', 'h1', 7), 7);
    assert.equal(await store.advanceSerial('z.', 'h2', 7), 8);
    assert.deepEqual(await store.listDomains(), [domain('a.example.com')]);
    await store.stop();
    await store.stop();
  });
});

describe('EmbeddedStore with a state file', () => {
  it('survives a restart', async () => {
    const file = freshFile();
    const first = open(file);
    await first.start();
    await first.putDomain(domain('a.example.com'));
    await first.putNode(node('edge-1', { ipv4: '203.0.113.1' }));
    await first.putZoneText('cdn.example.net.', 'www 30 IN A 198.51.100.1\n');
    await first.stop();

    const second = open(file);
    await second.start();
    try {
      assert.deepEqual(await second.loadState('cdn.example.net.'), {
        domains: [domain('a.example.com')],
        nodes: [node('edge-1', { ipv4: '203.0.113.1' })],
        zoneText: 'www 30 IN A 198.51.100.1\n',
        policy: null,
      });
    } finally {
      await second.stop();
    }
  });

  it('announces a write by another instance on the same file as a remote change', async () => {
    // The write lands right after start, on a file that did not exist yet. Regression:
    // fs.watchFile took its first stat as the baseline and could miss exactly this write.
    const file = freshFile();
    const reader = open(file);
    const writer = open(file);
    await reader.start();
    await writer.start();
    try {
      const change = new Promise<StoreChange>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no change event within 1.5 s')), 1500);
        reader.onChange((c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      await writer.putDomain(domain('b.example.com'));
      assert.deepEqual(await change, { kind: 'all', origin: 'remote' });
      assert.deepEqual(await reader.listDomains(), [domain('b.example.com')]);
    } finally {
      await writer.stop();
      await reader.stop();
    }
  });

  it('keeps watching after another instance on the same file stops', async () => {
    // Regression: stop() called unwatchFile(file), which removed every watcher on that path
    // in the process, including the other instance's.
    const file = freshFile();
    const reader = open(file);
    const first = open(file);
    await reader.start();
    await first.start();
    await first.stop();
    const writer = open(file);
    await writer.start();
    try {
      const seen: StoreChange[] = [];
      reader.onChange((c) => seen.push(c));
      await writer.putNode(node('edge-9'));
      const deadline = Date.now() + 1500;
      while (seen.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seen, [{ kind: 'all', origin: 'remote' }]);
    } finally {
      await writer.stop();
      await reader.stop();
    }
  });

  it('refuses to start on a corrupt file, naming it', async () => {
    const file = freshFile();
    const store = open(file);
    await store.start();
    await store.stop();
    writeFileSync(file, '{"version": 1, "domains": {');

    const broken = open(file);
    await assert.rejects(broken.start(), (err: Error) => {
      assert.match(err.message, /unreadable/);
      assert.ok(err.message.includes(file), err.message);
      return true;
    });
    await broken.stop();
    await broken.stop();
  });
});
