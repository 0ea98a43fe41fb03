// A real Redis Sentinel set for integration tests and benches: a master, one replica and
// `sentinels` redis-sentinel processes (quorum = majority) on free loopback ports, each in
// its own temp dir; killMaster() SIGKILLs the master; stop() ends exactly the children it
// spawned. Timings follow the shared Redis Sentinel recipe (recipes/redis-sentinel.md) (down-after 1000 ms).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { supervise } from './child.js';
import { freePort } from './redis-server.js';

export interface SentinelSet {
  name: string;
  masterPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** `host:port` of each sentinel, as store.sentinel.addresses takes them. */
  addresses: string[];
  /** SIGKILLs the master (no shutdown, no last replication). */
  killMaster(): void;
  /** The master's port as the first sentinel reports it. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const SENTINEL_BIN = process.env.REDIS_SENTINEL_BIN ?? 'redis-sentinel';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

async function ask<T>(port: number, ...args: string[]): Promise<T> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.call(args[0] as string, ...args.slice(1))) as T;
  } finally {
    r.disconnect();
  }
}

function fields(flat: unknown): Map<string, string> {
  const a = flat as string[];
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < a.length; i += 2) m.set(a[i] as string, a[i + 1] as string);
  return m;
}

export async function startSentinelSet(
  opts: { sentinels?: number; downAfterMs?: number; failoverTimeoutMs?: number } = {},
): Promise<SentinelSet> {
  const n = opts.sentinels ?? 3;
  const quorum = Math.floor(n / 2) + 1;
  const name = 'cirrusmaster';
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-sentinel-'));
  const halts: (() => Promise<void>)[] = [];
  const children: ChildProcess[] = [];
  const run = (bin: string, args: string[]) => {
    const child = spawn(bin, args, { stdio: 'ignore' });
    child.on('error', () => undefined);
    children.push(child);
    halts.push(supervise(child));
    return child;
  };
  const stop = async () => {
    await Promise.all(halts.map((h) => h()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const masterPort = await freePort();
    const replicaPort = await freePort();
    const node = (port: number, extra: string[]) =>
      run(REDIS_BIN, [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--save', '', '--appendonly', 'no', '--logfile', join(dir, `redis-${port}.log`)],
        ...extra,
      ]);
    const master = node(masterPort, []);
    node(replicaPort, ['--replicaof', '127.0.0.1', String(masterPort)]);
    await until('replica in sync', 10_000, async () =>
      /master_link_status:up/.test(await ask<string>(replicaPort, 'INFO', 'replication')),
    );
    const sentinelPorts: number[] = [];
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      sentinelPorts.push(port);
      // Each sentinel rewrites its own config file: one writable file per sentinel.
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `logfile ${join(dir, `sentinel-${port}.log`)}`,
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 3000}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      run(SENTINEL_BIN, [conf]);
    }
    // Every sentinel must know the replica and the others before a failover can be voted.
    await until('sentinels discover each other', 20_000, async () => {
      for (const port of sentinelPorts) {
        const m = fields(await ask(port, 'SENTINEL', 'master', name));
        if (m.get('num-slaves') !== '1' || m.get('num-other-sentinels') !== String(n - 1))
          return false;
      }
      return true;
    });
    return {
      name,
      masterPort,
      replicaPort,
      sentinelPorts,
      addresses: sentinelPorts.map((p) => `127.0.0.1:${p}`),
      killMaster: () => {
        master.kill('SIGKILL');
      },
      currentMasterPort: async () => {
        const a = await ask<[string, string]>(
          sentinelPorts[0] as number,
          'SENTINEL',
          'get-master-addr-by-name',
          name,
        );
        return Number(a[1]);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
