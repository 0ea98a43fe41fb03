// A real, throwaway redis-server for integration tests: free loopback port, no persistence,
// its own temp dir; stop() kills exactly the child it spawned and removes that dir.
import { spawn } from 'node:child_process';
import { supervise } from './child.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const READY_TIMEOUT_MS = 10_000;

/** A port nobody listens on right now; the small race with other processes is retried. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tryStart(dir: string, wanted?: number): Promise<RedisServer> {
  const port = wanted ?? (await freePort());
  const logfile = join(dir, `redis-${port}.log`);
  const child = spawn(
    REDIS_BIN,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--logfile',
      logfile,
    ],
    { stdio: 'ignore' },
  );
  // Never leave a server behind if the test process dies before stop().
  const halt = supervise(child);

  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  const stop = async () => {
    await halt();
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`cannot run ${REDIS_BIN}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      let log = '';
      try {
        log = readFileSync(logfile, 'utf8').slice(-2000);
      } catch {
        // No log yet: the exit status is all we have.
      }
      throw new Error(
        `redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}): ${log}`,
      );
    }
    if (await ping(port)) return { url: `redis://127.0.0.1:${port}`, port, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
}

/** `port` restarts a server where a stopped one was, to test reconnection. */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-redis-'));
  let lastError: unknown;
  // Another process may grab the free port between the probe and redis-server's bind.
  for (let attempt = 0; attempt < (opts.port === undefined ? 3 : 1); attempt++) {
    try {
      const server = await tryStart(dir, opts.port);
      return {
        ...server,
        stop: async () => {
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
