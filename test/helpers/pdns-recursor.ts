// A real, throwaway PowerDNS Recursor (Debian `pdns-recursor`) forwarding one zone to an
// authoritative on loopback with the client's ECS passed on (use-incoming-edns-subnet).
// What it needs on loopback: `dont-query=` empty (the default list holds 127.0.0.0/8),
// `dnssec=off` (dig sets AD, and the unsigned test zone cannot be proven insecure without
// the root: every answer would be SERVFAIL), no root priming or security polling.
// stop() ends exactly the child it started.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supervise } from './child.js';
import { freePort } from './redis-server.js';
import { dig } from './dig.js';

export const PDNS_RECURSOR_BIN =
  process.env.PDNS_RECURSOR_BIN ??
  (existsSync('/usr/sbin/pdns_recursor') ? '/usr/sbin/pdns_recursor' : 'pdns_recursor');

export interface PdnsRecursor {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** Starts the recursor forwarding `zone` to 127.0.0.1:`authPort`; resolves once it answers. */
export async function startPdnsRecursor(zone: string, authPort: number): Promise<PdnsRecursor> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-pdns-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'recursor.conf'),
    [
      'local-address=127.0.0.1',
      `local-port=${port}`,
      `socket-dir=${dir}`,
      'daemon=no',
      'write-pid=no',
      'setuid=',
      'setgid=',
      'disable-syslog=yes',
      `forward-zones=${zone}=127.0.0.1:${authPort}`,
      'dont-query=',
      `edns-subnet-allow-list=${zone}`,
      'use-incoming-edns-subnet=yes',
      'ecs-ipv4-bits=24',
      'dnssec=off',
      'hint-file=no',
      'security-poll-suffix=',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'recursor.log');
  let output = '';
  const child = spawn(PDNS_RECURSOR_BIN, [`--config-dir=${dir}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const halt = supervise(child);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const stop = async () => {
    await halt();
    writeFileSync(logFile, output);
    rmSync(dir, { recursive: true, force: true });
  };
  const log = () => output || (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`cannot run ${PDNS_RECURSOR_BIN}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = `pdns_recursor exited (${child.exitCode ?? child.signalCode}): ${output.slice(-2000)}`;
      await stop();
      throw new Error(why);
    }
    try {
      const r = await dig(port, [zone, 'SOA', '+time=1']);
      if (r.status === 'NOERROR') return { port, log, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = output.slice(-2000);
  await stop();
  throw new Error(`pdns_recursor on port ${port} did not answer within 15 s: ${why}`);
}
