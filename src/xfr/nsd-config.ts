// `cirrus nsd-config`: the NSD configuration of one secondary of our hidden master: its
// TSIG key, a pattern that asks us for transfers and accepts our NOTIFYs, the zone, and
// the server settings NSD 4 needs to serve a transfer at once and to start with a fresh
// copy (no zone database, no saved refresh timers).
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/load.js';
import { ValidationError } from '../lib/errors.js';
import { normalizeName } from '../lib/dnsname.js';
import type { Peers } from './peers.js';

export interface NsdConfigOptions {
  /** Which secondary the file is for (its key); default: the only one, or unsigned. */
  secondary?: string | undefined;
  /** Where NSD finds the master, `address[@port]`; default: the first dns.listen. */
  master?: string | undefined;
  /** Address our NOTIFYs come from; default: the master address. */
  notifyFrom?: string | undefined;
  /** Further `server:` settings (paths, addresses), one `name: value` each. */
  serverSettings?: readonly string[];
}

const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;

export function nsdConfig(config: Config, peers: Peers, opts: NsdConfigOptions = {}): string {
  const zone = config.zone.name;
  const secondaries = peers.secondaries;
  let chosen;
  if (opts.secondary !== undefined) {
    chosen = secondaries.find((s) => s.name === opts.secondary);
    if (!chosen)
      throw new ValidationError(
        `no secondary named ${opts.secondary} (have: ${secondaries.map((s) => s.name).join(', ') || 'none'})`,
        'secondary',
      );
  } else if (secondaries.length === 1) chosen = secondaries[0];
  const key = chosen ? peers.key(chosen.key) : undefined;

  let master = opts.master;
  if (!master) {
    const listen = parseListen(config.dns.listen[0] as string);
    if (listen.host === '0.0.0.0' || listen.host === '::' || listen.port === 0)
      throw new ValidationError(
        `dns.listen is ${config.dns.listen[0]}: give the address NSD reaches us at with --master ADDR[@PORT]`,
        'master',
      );
    master = `${listen.host}@${listen.port}`;
  }
  const [masterHost] = master.split('@') as [string];
  const notifyFrom = opts.notifyFrom ?? masterHost;
  const keyRef = key ? ` ${key.name}` : ' NOKEY';
  const port = chosen?.port ?? 53;

  const lines = [
    `# NSD 4 secondary of the Cirrus hidden master for ${zone}.`,
    `# ${chosen ? `Secondary "${chosen.name}" (${chosen.address}@${chosen.port})` : 'An unnamed secondary'}; written by \`cirrus nsd-config\`.`,
    '',
    'server:',
    `    port: ${port}`,
    '    # Serve a finished transfer at once (the default waits a second between reloads).',
    '    xfrd-reload-timeout: 0',
    '    # Keep transferred zones in memory only, and transfer every zone at start-up: with',
    '    # saved timers and no database a restarted NSD would serve an empty zone.',
    '    database: ""',
    '    zonefiles-write: 0',
    '    xfrdfile: ""',
    ...(opts.serverSettings ?? []).map((l) => `    ${l}`),
    '',
  ];
  if (key) {
    lines.push(
      'key:',
      `    name: ${quote(key.name)}`,
      `    algorithm: ${key.algorithm}`,
      `    secret: ${quote(key.secret.toString('base64'))}`,
      '',
    );
  }
  lines.push(
    'pattern:',
    '    name: "cirrus-hidden-master"',
    `    request-xfr: ${master}${keyRef}`,
    `    allow-notify: ${notifyFrom}${keyRef}`,
    '',
    'zone:',
    `    name: ${quote(normalizeName(zone))}`,
    '    include-pattern: "cirrus-hidden-master"',
    '',
  );
  return lines.join('\n');
}
