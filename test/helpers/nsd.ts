// A real NSD secondary for integration tests, configured by `nsdConfig` (what
// `cirrus nsd-config` prints) plus the paths and addresses of a throwaway temp dir:
// loopback only, foreground, no setuid or chroot. stop() kills exactly the child it spawned.
import { spawn } from 'node:child_process';
import { supervise } from './child.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';
import { dig } from './dig.js';

export interface NsdServer {
  port: number;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

const NSD_BIN =
  process.env.NSD_BIN ?? (process.env.PATH?.includes('/usr/sbin') ? 'nsd' : '/usr/sbin/nsd');

/**
 * Starts NSD with `render(port, settings)`: the caller returns the whole nsd.conf
 * (normally `nsdConfig(...)` with `serverSettings: settings`); remote control is off
 * unless it has a `remote-control:` section of its own.
 */
export async function startNsd(
  render: (port: number, serverSettings: string[]) => string,
  port?: number,
): Promise<NsdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-nsd-'));
  const nsdPort = port ?? (await freePort());
  const settings = [
    'ip-address: 127.0.0.1',
    'do-ip6: no',
    'server-count: 1',
    'username: ""',
    'chroot: ""',
    `zonesdir: "${dir}"`,
    `zonelistfile: "${dir}/zone.list"`,
    `pidfile: "${dir}/nsd.pid"`,
    `xfrdir: "${dir}"`,
    `logfile: "${dir}/nsd.log"`,
    'verbosity: 2',
    // Tests query NSD hard; its default response rate limit would drop answers.
    'rrl-ratelimit: 0',
  ];
  const conf = join(dir, 'nsd.conf');
  // NSD's control port (8952) is fixed: with it on, two NSDs of the suite collide.
  const rendered = render(nsdPort, settings);
  writeFileSync(
    conf,
    /^remote-control:/m.test(rendered)
      ? rendered
      : `${rendered}\nremote-control:\n  control-enable: no\n`,
  );
  writeFileSync(join(dir, 'nsd.log'), '');
  const child = spawn(NSD_BIN, ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const halt = supervise(child);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const log = () => {
    try {
      return readFileSync(join(dir, 'nsd.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`cannot run ${NSD_BIN}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = `nsd exited (${child.exitCode ?? child.signalCode}): ${stderr}${log().slice(-2000)}`;
      await stop();
      throw new Error(why);
    }
    try {
      // Any answer (SERVFAIL while the zone is not loaded yet) means it listens.
      const r = await dig(nsdPort, ['+norec', 'version.server', 'CH', 'TXT', '+time=1']);
      if (r.status !== 'NONE') return { port: nsdPort, dir, log, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`nsd on port ${nsdPort} did not answer within 10 s`);
}
