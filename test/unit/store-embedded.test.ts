// The embedded store against the shared contract, plus what only a file-backed store does:
// survive restarts, pick up another process's writes, refuse a corrupt file.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { StoreChange } from '../../src/store/store.js';
import { storeContract } from '../store-contract.js';
import { domain, health, node, repositoriesContract } from '../repositories-contract.js';
import { repos } from '../helpers/repos.js';
import { snapshotSource } from '../../src/repositories.js';
import { migrateStateFileV1 } from '../../src/state-file-v1.js';

const root = mkdtempSync(join(tmpdir(), 'cirrus-embedded-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh state file in a directory that does not exist yet: start() must create it. */
const freshFile = () => join(root, `case-${++n}`, 'state.json');
const open = (file: string) =>
  new EmbeddedStore({ migrate: migrateStateFileV1, file, watchIntervalMs: 100 });

const fixture = async () => {
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
};

storeContract('embedded (JSON file)', fixture);
repositoriesContract('embedded (JSON file)', fixture);

describe('EmbeddedStore in memory only', () => {
  it('works without a file and forgets everything on stop', async () => {
    const store = new EmbeddedStore();
    await store.start();
    await repos(store).domains.put(domain('a.example.com'));
    assert.equal(await repos(store).serials.advance('z.', 'h1', 7), 7);
    assert.equal(await repos(store).serials.advance('z.', 'h2', 7), 8);
    assert.deepEqual(await repos(store).domains.list(), [domain('a.example.com')]);
    await store.stop();
    await store.stop();
  });
});

describe('EmbeddedStore with a state file', () => {
  it('survives a restart', async () => {
    const file = freshFile();
    const first = open(file);
    await first.start();
    await repos(first).domains.put(domain('a.example.com'));
    await repos(first).nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
    await repos(first).zoneText.put('cdn.example.net.', 'www 30 IN A 198.51.100.1\n');
    await first.stop();

    const second = open(file);
    await second.start();
    try {
      assert.deepEqual(await snapshotSource(repos(second)).loadState('cdn.example.net.'), {
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
      await repos(writer).domains.put(domain('b.example.com'));
      assert.deepEqual(await change, { kind: 'all', origin: 'remote' });
      assert.deepEqual(await repos(reader).domains.list(), [domain('b.example.com')]);
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
      await repos(writer).nodes.put(node('edge-9'));
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

describe('EmbeddedStore writes behind', () => {
  /** The file's domains, tokens and nodes by name, read from the keys that hold them. */
  const raw = (file: string) => {
    const f = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    const pick = (section: string, prefix: string): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(f[section] ?? {})
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    return {
      domains: pick('json', 'cdn:dom:'),
      tokens: pick('hashes', 'cdn:token:'),
      nodes: pick('hashes', 'cdn:node:'),
    };
  };
  /** Adds to a parsed state file the token `foreign` as `cirrus token create` writes it. */
  function withForeignToken(text: string): string {
    const f = JSON.parse(text) as {
      strings: Record<string, string>;
      hashes: Record<string, Record<string, string>>;
      sets: Record<string, string[]>;
    };
    f.hashes['cdn:token:foreign'] = {
      id: 'foreign',
      name: 'f',
      created_at: 'x',
      hash: 'hash-foreign',
    };
    f.sets['cdn:tokens'] = [...(f.sets['cdn:tokens'] ?? []), 'foreign'];
    f.strings['cdn:token_hash:hash-foreign'] = 'foreign';
    return JSON.stringify(f);
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(10);
    }
  }
  const tmpFiles = (file: string) =>
    readdirSync(dirname(file)).filter((f) => f.endsWith('.tmp') || f.endsWith('.old'));
  /** A token written the way another process (`cirrus token create`) writes it. */
  async function foreignToken(file: string, id: string): Promise<void> {
    const other = new EmbeddedStore({ migrate: migrateStateFileV1, file, writeDelayMs: 0 });
    await other.start();
    await repos(other).tokens.put(
      { id, name: id, createdAt: '2024-01-01T00:00:00.000Z' },
      `hash-${id}`,
    );
    await other.stop();
  }

  it('keeps volatile keys (health views and their index) in memory only, through adoptions', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({ file, writeDelayMs: 10, watchIntervalMs: 20 });
    await store.start();
    try {
      const view = {
        instance: 'i1',
        state: 'up' as const,
        okStreak: 1,
        failStreak: 0,
        lastError: null,
        lastCheck: '2024-03-01T00:00:05.000Z',
        latencyMs: 1,
      };
      await repos(store).health.putViews(new Map([['edge-1', view]]), 60);
      await repos(store).domains.put(domain('a.example.com'));
      await store.flush();
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes('cdn:health:'), 'no health key in the file');
      const seen: StoreChange[] = [];
      store.onChange((c) => seen.push(c));
      await foreignToken(file, 'foreign');
      await until('the foreign write adopted', () => seen.some((c) => c.origin === 'remote'));
      assert.deepEqual(
        await repos(store).health.loadViews(['edge-1']),
        new Map([['edge-1', [view]]]),
      );
    } finally {
      await store.stop();
    }
  });

  it('a burst of writes reaches the file in one write, all of it', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 150,
      watchIntervalMs: 50,
    });
    await store.start();
    try {
      for (let i = 0; i < 300; i++) await repos(store).domains.put(domain(`d${i}.example.com`));
      assert.equal(existsSync(file), false, 'nothing written while the burst runs');
      await until('the burst on disk', () => existsSync(file));
      const first = statSync(file);
      assert.equal(Object.keys(raw(file).domains).length, 300);
      await sleep(400);
      const later = statSync(file);
      assert.deepEqual([later.ino, later.mtimeMs], [first.ino, first.mtimeMs], 'one file write');
      assert.deepEqual(tmpFiles(file), []);
    } finally {
      await store.stop();
    }
  });

  it('steady writes do not postpone the file write past the delay', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({ migrate: migrateStateFileV1, file, writeDelayMs: 100 });
    await store.start();
    try {
      const started = Date.now();
      let i = 0;
      while (!existsSync(file)) {
        await repos(store).domains.put(domain(`d${i++}.example.com`));
        await sleep(20);
      }
      assert.ok(Date.now() - started < 600, `first write after ${Date.now() - started} ms`);
      assert.ok(Object.keys(raw(file).domains).length > 0);
    } finally {
      await store.stop();
    }
  });

  it('after a write that took longer than the delay, the next waits as long as it took', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({ migrate: migrateStateFileV1, file, writeDelayMs: 10 });
    await store.start();
    try {
      await repos(store).domains.put(domain('first.example.com'));
      while (!existsSync(file)) await sleep(5);
      await sleep(50);
      // As if that write had taken 400 ms (a large store's).
      (store['file'] as unknown as { lastWriteMs: number }).lastWriteMs = 400;
      await repos(store).domains.put(domain('second.example.com'));
      await sleep(200);
      assert.deepEqual(Object.keys(raw(file).domains), ['first.example.com']);
      await sleep(400);
      assert.deepEqual(Object.keys(raw(file).domains).sort(), [
        'first.example.com',
        'second.example.com',
      ]);
    } finally {
      await store.stop();
    }
  });

  it('stop() writes what is pending; a restart sees every write', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({ migrate: migrateStateFileV1, file, writeDelayMs: 60_000 });
    await store.start();
    for (let i = 0; i < 200; i++) await repos(store).domains.put(domain(`d${i}.example.com`));
    await repos(store).nodes.put(node('edge-1', { ipv4: '203.0.113.1' }));
    await repos(store).nodes.setHealth('edge-1', false, health({ state: 'down' }));
    await repos(store).domains.delete('d7.example.com');
    assert.equal(existsSync(file), false, 'nothing written before stop');
    await store.stop();

    assert.equal(Object.keys(raw(file).domains).length, 199);
    const again = open(file);
    await again.start();
    try {
      assert.equal((await repos(again).domains.list()).length, 199);
      assert.equal(await repos(again).domains.get('d7.example.com'), undefined);
      assert.deepEqual(
        await repos(again).nodes.get('edge-1'),
        node('edge-1', { ipv4: '203.0.113.1', active: false, health: health({ state: 'down' }) }),
      );
    } finally {
      await again.stop();
    }
  });

  it('loads a file in the format written before (plain JSON.stringify of the state)', async () => {
    const file = freshFile();
    mkdirSync(dirname(file), { recursive: true });
    const old = {
      version: 1,
      domains: { 'a.example.com': domain('a.example.com') },
      nodes: { 'edge-1': node('edge-1') },
      zones: { 'cdn.example.net.': 'x' },
      tokens: {},
      soa: {},
      meta: {},
    };
    writeFileSync(file, JSON.stringify(old));
    const store = open(file);
    await store.start();
    await repos(store).domains.put(domain('b.example.com'));
    await store.stop();
    assert.deepEqual(raw(file).domains, {
      'a.example.com': domain('a.example.com'),
      'b.example.com': domain('b.example.com'),
    });
  });

  it('a foreign write while local changes are pending keeps both, announced as remote', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 400,
      watchIntervalMs: 50,
    });
    await store.start();
    try {
      const seen: StoreChange[] = [];
      store.onChange((c) => seen.push(c));
      await repos(store).domains.put(domain('local.example.com'));
      await foreignToken(file, 'foreign');
      assert.deepEqual(Object.keys(raw(file).domains), [], 'ours is still pending');
      await until('the foreign write adopted', () => seen.some((c) => c.origin === 'remote'));
      assert.equal(await repos(store).tokens.idByHash('hash-foreign'), 'foreign');
      assert.deepEqual(
        await repos(store).domains.get('local.example.com'),
        domain('local.example.com'),
      );
      await until('ours written', () => 'local.example.com' in raw(file).domains);
      assert.ok('foreign' in raw(file).tokens, 'the foreign token survived our write');
    } finally {
      await store.stop();
    }
  });

  /** A store holding 20,000 domains on disk, so that its next write takes a while. */
  async function bigStore(file: string, watchIntervalMs: number): Promise<EmbeddedStore> {
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 60_000,
      watchIntervalMs,
    });
    await store.start();
    for (let i = 0; i < 20_000; i++) await repos(store).domains.put(domain(`d${i}.example.com`));
    await store.flush();
    return store;
  }
  const foreignTokenRecord = { id: 'foreign', name: 'f', createdAt: 'x', hash: 'hash-foreign' };

  it('a token written by another process is accepted at once, before the next poll', async () => {
    const file = freshFile();
    // The poll is far away: only the lookup itself can find the new token.
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 10,
      watchIntervalMs: 60_000,
    });
    await store.start();
    const r = repos(store);
    try {
      await r.domains.put(domain('kept.example.com'));
      await store.flush();
      assert.equal(await r.tokens.idByHash('hash-nobody'), undefined);
      await foreignToken(file, 'cli');
      assert.equal(await r.tokens.idByHash('hash-cli'), 'cli');
      assert.deepEqual(
        (await r.domains.list()).map((d) => d.domain),
        ['kept.example.com'],
        'adopting the file keeps what this instance wrote',
      );
      assert.equal(await r.tokens.idByHash('hash-nobody'), undefined);
    } finally {
      await store.stop();
    }
  });

  it('a foreign write landing during our write is found at the rename and kept', async () => {
    const file = freshFile();
    const store = await bigStore(file, 60_000); // no polling: only the rename's check finds it
    try {
      const before = readFileSync(file, 'utf8');
      await repos(store).domains.put(domain('local.example.com'));
      const flushed = store.flush();
      await until('our write under way', () => tmpFiles(file).length > 0);
      // Another process read the file before our write and lands its own now.
      writeFileSync(`${file}.other`, withForeignToken(before));
      renameSync(`${file}.other`, file);
      await flushed;

      const after = raw(file);
      assert.ok('foreign' in after.tokens, 'the foreign write was overwritten');
      assert.ok('local.example.com' in after.domains, 'our pending write was lost');
      assert.equal(Object.keys(after.domains).length, 20_001);
      assert.deepEqual(tmpFiles(file), []);
    } finally {
      await store.stop();
    }
  });

  it('a foreign write adopted while our write runs stops that write from landing', async () => {
    const file = freshFile();
    const store = await bigStore(file, 5);
    try {
      let adoptedMidWrite: boolean | undefined;
      store.onChange((c) => {
        if (c.origin === 'remote') adoptedMidWrite ??= tmpFiles(file).length > 0;
      });
      await repos(store).domains.put(domain('local.example.com'));
      const flushed = store.flush();
      await until('our write under way', () => tmpFiles(file).length > 0);
      // A small foreign state (no domains at all), adopted long before our write ends.
      const theirs = {
        version: 1,
        domains: {},
        nodes: {},
        zones: {},
        tokens: {},
        soa: {},
        meta: {},
      };
      writeFileSync(
        `${file}.other`,
        JSON.stringify({ ...theirs, tokens: { foreign: foreignTokenRecord } }),
      );
      renameSync(`${file}.other`, file);
      await flushed;
      assert.equal(adoptedMidWrite, true, 'precondition: adopted while our write ran');

      const after = raw(file);
      assert.deepEqual(Object.keys(after.tokens), ['foreign']);
      assert.deepEqual(Object.keys(after.domains), ['local.example.com'], 'theirs, then ours');
      assert.equal(await repos(store).tokens.idByHash('hash-foreign'), 'foreign');
      assert.equal((await repos(store).domains.list()).length, 1);
    } finally {
      await store.stop();
    }
  });

  it('does not take its own write for a foreign one', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 10,
      watchIntervalMs: 10,
    });
    await store.start();
    try {
      const seen: StoreChange[] = [];
      store.onChange((c) => seen.push(c));
      for (let i = 0; i < 10; i++) {
        await repos(store).domains.put(domain(`d${i}.example.com`));
        await sleep(30);
      }
      await store.flush();
      await sleep(100);
      assert.deepEqual(
        seen.filter((c) => c.origin === 'remote'),
        [],
      );
    } finally {
      await store.stop();
    }
  });

  it('a garbage foreign file breaks nothing: kept until replaced, then merged', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 50,
      watchIntervalMs: 50,
    });
    await store.start();
    try {
      await repos(store).domains.put(domain('a.example.com'));
      await store.flush();
      const good = readFileSync(file, 'utf8');
      const garbage = good.slice(0, good.length >> 1);
      writeFileSync(file, garbage);

      assert.deepEqual(await repos(store).domains.get('a.example.com'), domain('a.example.com'));
      await repos(store).domains.put(domain('b.example.com'));
      assert.equal((await repos(store).domains.list()).length, 2);
      await sleep(300);
      assert.equal(
        readFileSync(file, 'utf8'),
        garbage,
        'not overwritten while its writer may be at work',
      );

      // The other writer finishes: its file holds a token; ours is merged over it.
      writeFileSync(file, withForeignToken(good));
      await until('merged on disk', () => {
        try {
          return 'b.example.com' in raw(file).domains;
        } catch {
          return false;
        }
      });
      assert.ok('foreign' in raw(file).tokens);
      assert.ok('a.example.com' in raw(file).domains);
    } finally {
      await store.stop();
    }
  });

  it('a file left unreadable is set aside after the grace time, and at stop', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({
      migrate: migrateStateFileV1,
      file,
      writeDelayMs: 50,
      unreadableGraceMs: 300,
    });
    await store.start();
    await repos(store).domains.put(domain('a.example.com'));
    await store.flush();
    writeFileSync(file, '{"version": 1, "domains": {');
    await repos(store).domains.put(domain('b.example.com'));
    await until('written after the grace time', () => {
      try {
        return 'b.example.com' in raw(file).domains;
      } catch {
        return false;
      }
    });
    const aside = readdirSync(dirname(file)).filter((f) => f.includes('.unreadable-'));
    assert.equal(aside.length, 1);
    assert.equal(
      readFileSync(join(dirname(file), aside[0]!), 'utf8'),
      '{"version": 1, "domains": {',
    );

    writeFileSync(file, 'garbage');
    await repos(store).domains.put(domain('c.example.com'));
    await store.stop();
    assert.equal(Object.keys(raw(file).domains).length, 3);
    assert.equal(readdirSync(dirname(file)).filter((f) => f.includes('.unreadable-')).length, 2);
  });

  it('a write that fails keeps the changes: stop() says so, a later flush writes them', async () => {
    const file = freshFile();
    const store = new EmbeddedStore({ migrate: migrateStateFileV1, file, writeDelayMs: 60_000 });
    await store.start();
    await repos(store).domains.put(domain('a.example.com'));
    // The state file's directory becomes a file: every write fails with ENOTDIR.
    rmSync(dirname(file), { recursive: true });
    writeFileSync(dirname(file), 'not a directory');
    await assert.rejects(store.stop(), (err: Error) => {
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /1 changes not written/);
      return true;
    });
    assert.deepEqual(await repos(store).domains.get('a.example.com'), domain('a.example.com'));
    rmSync(dirname(file));
    mkdirSync(dirname(file));
    await store.flush();
    assert.deepEqual(Object.keys(raw(file).domains), ['a.example.com']);
  });
});
