// A real signed parent zone for DNSSEC tests: Knot (Debian `knot`) serves `parent`, signed with
// its own automatic keys, delegating `child` to 127.0.0.1 with the DS records a test gives;
// setDs() rewrites the delegation's DS and reloads (what a registry does with a new DS).
// Recipe: the dnssec-validators recipe (shared/recipes/dnssec-validators.md). stop() ends exactly the knotd it started.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervise } from './child.js';
import { freePort } from './redis-server.js';
import { dig } from './dig.js';
import { eventually } from './wait.js';

const run = promisify(execFile);
const bin = (name: string) => (existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name);

export interface KnotParent {
  port: number;
  /** The parent's own DS (its KSK, SHA-256) in zone-file form: the validators' trust anchor. */
  anchorDs: string;
  /** Replaces the child's DS set (rdata text "tag alg 2 HEX") and waits until Knot serves it. */
  setDs(ds: readonly string[]): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

export async function startKnotParent(opts: {
  parent: string;
  child: string;
  ds: readonly string[];
  /** TTL of the DS records (and of everything else in the parent zone). */
  ttl: number;
}): Promise<KnotParent> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-knot-'));
  mkdirSync(join(dir, 'db')); // Knot does not create database.storage: signing fails without it
  const port = await freePort();
  const conf = join(dir, 'knot.conf');
  writeFileSync(
    conf,
    [
      'server:',
      `  listen: 127.0.0.1@${port}`,
      `  rundir: ${dir}`,
      `  pidfile: ${dir}/knot.pid`,
      'log:',
      `  - target: ${dir}/knot.log`,
      '    any: info',
      'database:',
      `  storage: ${dir}/db`,
      'control:',
      `  listen: ${dir}/knot.sock`,
      'template:',
      '  - id: default',
      `    storage: ${dir}`,
      '    file: "%s.zone"',
      '    zonefile-sync: -1',
      '    journal-content: none',
      'zone:',
      `  - domain: ${opts.parent}`,
      '    dnssec-signing: on',
      '',
    ].join('\n'),
  );
  let serial = 1;
  const writeZone = (ds: readonly string[]) =>
    writeFileSync(
      join(dir, `${opts.parent}.zone`),
      [
        `$ORIGIN ${opts.parent}.`,
        `$TTL ${opts.ttl}`,
        `@ SOA ns1 hostmaster ${serial} 60 60 86400 ${opts.ttl}`,
        '@ NS ns1',
        'ns1 A 127.0.0.1',
        `${opts.child}. NS ns1.${opts.child}.`,
        `ns1.${opts.child}. A 127.0.0.1`,
        ...ds.map((d) => `${opts.child}. DS ${d}`),
        '',
      ].join('\n'),
    );
  writeZone(opts.ds);
  await run(bin('knotc'), ['-c', conf, 'conf-check']);
  const child = spawn(bin('knotd'), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const halt = supervise(child);
  const log = () => {
    const file = join(dir, 'knot.log');
    return stderr + (existsSync(file) ? readFileSync(file, 'utf8') : '');
  };
  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually('Knot to serve the signed parent zone', 15_000, async () => {
      const r = await dig(port, [opts.parent, 'DNSKEY', '+dnssec']);
      return r.answer.some((l) => / RRSIG DNSKEY /.test(l)) ? true : undefined;
    });
    const { stdout } = await run(bin('keymgr'), ['-c', conf, opts.parent, 'ds']);
    const anchorDs = stdout
      .split('\n')
      .map((l) => l.trim().replace(/\s+/g, ' '))
      .find((l) => / DS \d+ \d+ 2 /.test(l));
    if (!anchorDs) throw new Error(`keymgr ds printed no SHA-256 DS: ${stdout}`);
    // dig splits a long digest in chunks: compare "tag alg type DIGEST" with the digest whole.
    const norm = (f: string[]) => `${f[0]} ${f[1]} ${f[2]} ${f.slice(3).join('').toUpperCase()}`;
    const dsOf = async () =>
      (await dig(port, [opts.child, 'DS', '+norec'])).answer
        .map((l) => norm(l.split(' ').slice(4)))
        .sort()
        .join(',');
    return {
      port,
      anchorDs,
      log,
      stop,
      setDs: async (ds) => {
        serial++;
        writeZone(ds);
        await run(bin('knotc'), ['-c', conf, 'zone-reload', opts.parent]);
        const want = ds
          .map((d) => norm(d.trim().split(/\s+/)))
          .sort()
          .join(',');
        await eventually(`Knot to serve DS ${want}`, 10_000, async () =>
          (await dsOf()) === want ? true : undefined,
        );
      },
    };
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
}
