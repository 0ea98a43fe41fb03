// A real validating resolver for DNSSEC tests: Debian's unbound, with one trust anchor and
// stub zones to authoritatives on loopback (recipe: the dnssec-validators recipe (shared/recipes/dnssec-validators.md):
// do-not-query-localhost off, no trust-anchor signaling, EDE and failure reasons logged).
// `cacheMaxTtl` caps what it caches, to match a test that shortens the zone's timings.
// stop() ends exactly the unbound it started.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervise } from './child.js';
import { freePort } from './redis-server.js';
import { dig } from './dig.js';
import { eventually } from './wait.js';

const run = promisify(execFile);

export interface Unbound {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

export async function startUnbound(opts: {
  /** Zone-file DS or DNSKEY line of the trust anchor. */
  anchor: string;
  /** Zone → authoritative port on 127.0.0.1. */
  stubs: Readonly<Record<string, number>>;
  cacheMaxTtl?: number;
}): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-unbound-'));
  const port = await freePort();
  const conf = join(dir, 'unbound.conf');
  const cap = opts.cacheMaxTtl;
  writeFileSync(
    conf,
    [
      'server:',
      '  interface: 127.0.0.1',
      `  port: ${port}`,
      '  do-ip6: no',
      '  do-daemonize: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      `  pidfile: "${dir}/unbound.pid"`,
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 1',
      '  val-log-level: 2',
      '  log-servfail: yes',
      '  ede: yes',
      '  module-config: "validator iterator"',
      '  access-control: 127.0.0.0/8 allow',
      '  do-not-query-localhost: no',
      '  trust-anchor-signaling: no',
      '  qname-minimisation: no',
      ...(cap === undefined
        ? []
        : [`  cache-max-ttl: ${cap}`, `  cache-max-negative-ttl: ${cap}`, `  val-bogus-ttl: 1`]),
      `  trust-anchor: "${opts.anchor}"`,
      ...Object.entries(opts.stubs).flatMap(([zone, p]) => [
        'stub-zone:',
        `  name: "${zone}"`,
        `  stub-addr: 127.0.0.1@${p}`,
      ]),
      'remote-control:',
      '  control-enable: no',
      '',
    ].join('\n'),
  );
  await run('unbound-checkconf', [conf]);
  const child = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const halt = supervise(child);
  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually('unbound to answer', 10_000, async () => {
      // A name under a stub zone: anything else would go to the real root servers.
      const r = await dig(port, [Object.keys(opts.stubs)[0] ?? '', 'SOA', '+time=1']);
      return r.status !== 'NONE' ? true : undefined;
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return { port, log: () => output, stop };
}
