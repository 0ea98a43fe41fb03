// Real DNSSEC validators pointed at an authoritative on loopback (recipe:
// dnssec-validators.md): unbound (stub zone; with `ecs` the subnetcache module passes the
// client's ECS on), knot-resolver 5 (policy.FORWARD: policy.STUB does not validate), delv
// and dnsviz. Each resolver has only the test zone's trust anchor, no root, and the settings
// that keep it from querying anything off loopback (no priming, no time-skew or TA-signal
// queries). stop() ends exactly the child it started and removes its directory.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { supervise } from './child.js';
import { freePort } from './redis-server.js';
import { dig } from './dig.js';

const run = promisify(execFile);

export interface Resolver {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** The zone's trust anchors from its own DNSKEY RRset (flags 257), as zone-file lines. */
export async function anchorsFromDnskey(authPort: number, zone: string): Promise<string[]> {
  const r = await dig(authPort, [zone, 'DNSKEY', '+norec']);
  const keys = r.answer.filter((l) => / DNSKEY 257 3 /.test(l));
  if (keys.length === 0) throw new Error(`no DNSKEY 257 at ${zone}: ${r.raw}`);
  // dig splits long keys into space-separated chunks: join the base64 back into one field.
  return keys.map((l) => {
    const f = l.split(' ');
    return `${f[0]} ${f[1]} IN DNSKEY ${f.slice(4, 7).join(' ')} ${f.slice(7).join('')}`;
  });
}

/** DS records (SHA-256) computed from DNSKEY lines by BIND's dnssec-dsfromkey. */
export async function dsFromKeys(zone: string, dnskeys: readonly string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-ds-'));
  try {
    const file = join(dir, 'keys');
    writeFileSync(file, dnskeys.join('\n') + '\n');
    const { stdout } = await run('dnssec-dsfromkey', ['-2', '-f', file, zone]);
    return stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A DNSKEY anchor whose key is wrong (one base64 character changed): validation must fail. */
export function spoilAnchor(anchor: string): string {
  const f = anchor.split(' ');
  const key = f[f.length - 1] as string;
  const i = Math.floor(key.length / 2);
  f[f.length - 1] = key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1);
  return f.join(' ');
}

async function waitAnswering(
  name: string,
  port: number,
  zone: string,
  child: ReturnType<typeof spawn>,
  output: () => string,
  stop: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  while (Date.now() < deadline) {
    if (spawnError) {
      await stop();
      throw new Error(`cannot run ${name}: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = `${name} exited (${child.exitCode ?? child.signalCode}): ${output().slice(-2000)}`;
      await stop();
      throw new Error(why);
    }
    try {
      // +cd: the resolver is up even when this instance's anchor makes validation fail.
      const r = await dig(port, [zone, 'SOA', '+cd', '+time=1']);
      if (r.status === 'NOERROR') return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = output().slice(-2000);
  await stop();
  throw new Error(`${name} on port ${port} did not answer within 20 s: ${why}`);
}

function launch(
  name: string,
  cmd: string,
  args: string[],
  dir: string,
): { child: ReturnType<typeof spawn>; output: () => string; stop: () => Promise<void> } {
  let output = '';
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const halt = supervise(child);
  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  return { child, output: () => output, stop };
}

export interface UnboundOptions {
  zone: string;
  authPort: number;
  /** Trust anchors: DS or DNSKEY lines. */
  anchors: readonly string[];
  /** Pass the client's ECS to the authoritative (subnetcache module), /24 for IPv4. */
  ecs?: boolean;
  /** The EDNS UDP size unbound advertises upstream (its default is 1232). */
  ednsBufferSize?: number;
}

/** unbound validating `zone`, which it asks of 127.0.0.1:`authPort` only. */
export async function startUnbound(o: UnboundOptions): Promise<Resolver> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-unbound-'));
  const port = await freePort();
  const conf = [
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
    '  val-log-level: 2',
    '  log-servfail: yes',
    '  ede: yes',
    '  qname-minimisation: no',
    ...(o.ednsBufferSize ? [`  edns-buffer-size: ${o.ednsBufferSize}`] : []),
    `  module-config: "${o.ecs ? 'subnetcache ' : ''}validator iterator"`,
    ...(o.ecs
      ? [
          '  send-client-subnet: 127.0.0.1',
          '  client-subnet-always-forward: yes',
          '  max-client-subnet-ipv4: 24',
        ]
      : []),
    '  access-control: 127.0.0.0/8 allow',
    '  do-not-query-localhost: no',
    '  trust-anchor-signaling: no',
    ...o.anchors.map((a) => `  trust-anchor: "${a}"`),
    'stub-zone:',
    `  name: "${o.zone}"`,
    `  stub-addr: 127.0.0.1@${o.authPort}`,
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n');
  const file = join(dir, 'unbound.conf');
  writeFileSync(file, conf);
  const p = launch('unbound', 'unbound', ['-d', '-c', file], dir);
  await waitAnswering('unbound', port, o.zone, p.child, p.output, p.stop);
  return { port, log: p.output, stop: p.stop };
}

/** knot-resolver 5 (kresd) validating `zone`, forwarded to 127.0.0.1:`authPort`. */
export async function startKresd(o: {
  zone: string;
  authPort: number;
  anchors: readonly string[];
}): Promise<Resolver> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-kresd-'));
  const port = await freePort();
  const rundir = join(dir, 'run');
  mkdirSync(rundir);
  const conf = [
    `net.listen('127.0.0.1', ${port}, { kind = 'dns' })`,
    'net.ipv6 = false',
    "modules.unload('priming')",
    "modules.unload('detect_time_skew')",
    "modules.unload('ta_signal_query')",
    'cache.size = 10 * MB',
    "trust_anchors.remove('.')",
    ...o.anchors.map((a) => `trust_anchors.add('${a}')`),
    `policy.add(policy.suffix(policy.FORWARD({'127.0.0.1@${o.authPort}'}), {todname('${o.zone}.')}))`,
    '',
  ].join('\n');
  // -c must be absolute: kresd changes into the rundir first.
  const file = join(dir, 'kresd.conf');
  writeFileSync(file, conf);
  const p = launch('kresd', 'kresd', ['-n', '-c', file, rundir], dir);
  await waitAnswering('kresd', port, o.zone, p.child, p.output, p.stop);
  return { port, log: p.output, stop: p.stop };
}

export interface DelvResult {
  /** "; fully validated" (positive) or "; negative response, fully validated". */
  validated: boolean;
  negative: boolean;
  out: string;
}

/**
 * delv straight at the authoritative with `anchors` (DNSKEY lines) as the only trust.
 * delv exits 0 whatever the outcome: the verdict is read from what it prints.
 */
export async function delv(
  authPort: number,
  zone: string,
  anchors: readonly string[],
  args: readonly string[],
): Promise<DelvResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-delv-'));
  try {
    const file = join(dir, 'anchors.conf');
    const lines = anchors.map((a) => {
      const f = a.split(' ');
      return `  ${f[0]} static-key ${f.slice(4, 7).join(' ')} "${f[7]}";`;
    });
    writeFileSync(file, `trust-anchors {\n${lines.join('\n')}\n};\n`);
    const r = await run(
      'delv',
      ['@127.0.0.1', '-p', String(authPort), '-a', file, `+root=${zone}`, ...args],
      { timeout: 20_000 },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? String(err),
    }));
    const out = `${r.stdout}${r.stderr}`;
    return {
      validated: /^; (negative response, )?fully validated$/m.test(r.stdout),
      negative: /^; negative response, fully validated$/m.test(r.stdout),
      out,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface DnsvizResult {
  /** How often each "status" value occurs in grok's JSON (SECURE, BOGUS, …). */
  statuses: Record<string, number>;
  /** Every "errors" list grok reported, with the path of the object it sits on. */
  errors: string[];
  /** grok's warnings (reported, not failures). */
  warnings: string[];
  /** `dnsviz print` text. */
  print: string;
}

// Debian 12's dnsviz 0.9.4 imports pygraphviz.release, which python3-pygraphviz 1.7 lacks.
const PYGRAPHVIZ_SHIM = `import sys, types
try:
    import pygraphviz
    m = types.ModuleType('pygraphviz.release'); m.version = pygraphviz.__version__
    sys.modules['pygraphviz.release'] = m; pygraphviz.release = m
except ImportError:
    pass
`;

/**
 * `dnsviz probe` of `names` at the authoritative (the "+" keeps it from asking the parent
 * for DS, so nothing leaves loopback), then `grok` and `print` with `anchors` as the
 * trusted keys.
 */
export async function dnsviz(
  authPort: number,
  zone: string,
  nsName: string,
  anchors: readonly string[],
  names: readonly string[],
): Promise<DnsvizResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-dnsviz-'));
  try {
    const shim = join(dir, 'shim');
    mkdirSync(shim);
    writeFileSync(join(shim, 'sitecustomize.py'), PYGRAPHVIZ_SHIM);
    const keys = join(dir, 'trusted-keys.txt');
    writeFileSync(keys, anchors.join('\n') + '\n');
    const probe = join(dir, 'probe.json');
    const { stdout: probed } = await run(
      'dnsviz',
      ['probe', '-A', '-x', `${zone}+:${nsName}=127.0.0.1:${authPort}`, '-p', zone, ...names],
      { timeout: 60_000, maxBuffer: 1 << 26 },
    );
    writeFileSync(probe, probed);
    const env = { ...process.env, PYTHONPATH: shim };
    const { stdout: grokked } = await run('dnsviz', ['grok', '-t', keys, '-r', probe], {
      env,
      timeout: 60_000,
      maxBuffer: 1 << 26,
    });
    const { stdout: print } = await run('dnsviz', ['print', '-t', keys, '-r', probe], {
      env,
      timeout: 60_000,
      maxBuffer: 1 << 26,
    });
    const statuses: Record<string, number> = {};
    const errors: string[] = [];
    const warnings: string[] = [];
    const walk = (v: unknown, path: string) => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'status' && typeof x === 'string') statuses[x] = (statuses[x] ?? 0) + 1;
          if (k === 'errors' && Array.isArray(x))
            for (const e of x) errors.push(`${path}: ${JSON.stringify(e)}`);
          if (k === 'warnings' && Array.isArray(x))
            for (const w of x) warnings.push(`${path}: ${JSON.stringify(w)}`);
          walk(x, `${path}/${k}`);
        }
    };
    walk(JSON.parse(grokked), '');
    return { statuses, errors, warnings, print };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
