#!/usr/bin/env node
// The `cirrus` command: parses arguments and hands over to the server or a one-shot
// command. Everything of substance lives in the modules it calls.
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { createLogger, silentLogger } from './lib/logger.js';
import { CirrusError, ValidationError, errorMessage } from './lib/errors.js';
import { Cirrus } from './server.js';
import { repositories, snapshotSource, type Repositories } from './repositories.js';
import { openStore } from './open-store.js';
import { createToken } from './auth/tokens.js';
import { snapshotFromStore } from './snapshot/from-store.js';
import { exportZone } from './snapshot/export.js';
import { seedStore } from './domains/seed.js';
import { buildGeoDatabase, writeFileAtomic } from './geo/tools/build.js';
import { enrollEdge } from './edge/enroll.js';
import { signUrl } from './edge/signing.js';
import { validCidr } from './model/edge.js';
import { normalizeName } from './lib/dnsname.js';
import { nsdConfig } from './xfr/nsd-config.js';
import { Peers } from './xfr/peers.js';
import { rotateStoredSecrets } from './protect/cookie-secrets.js';
import { requestRelease, RELEASE_WINDOW_MS } from './snapshot/publish-gate.js';
import { redisConnection } from './store/redis-connection.js';
import { rolloverParameters } from './snapshot/rollover-parameters.js';
import {
  DnssecRollover,
  keyViews,
  parentDs,
  rolloverStatus,
  rolloverTimings,
  type RolloverTimings,
} from './dnssec/rollover.js';
import { algorithmNumber, type AlgorithmName } from './dnssec/algorithm.js';

const HELP = `cirrus — authoritative GeoDNS load balancer for a self-hosted CDN

Usage:
  cirrus serve [--config FILE]                 run the DNS server and the admin API
  cirrus token create [--name NAME] [--config FILE]
                                               create an API token (printed once)
  cirrus zone export [--config FILE]           print the zone as RFC 1035 text
  cirrus snapshot release [--config FILE]      publish the change the publish gate holds,
                                               on every instance sharing the store
  cirrus geo build --country CSV… [--asn CSV…] --out FILE.mmdb [--type NAME]
                                               compile CSV ranges (first,last,country_code;
                                               first,last,asn,org; or network,… rows) into a
                                               GeoLite2-shaped .mmdb; --country/--asn repeat
  cirrus edge enroll NODE [--ipv4 A] [--ipv6 A] [--pool P] [--config FILE]
                                               register an edge node and create its read-only
                                               Redis user; prints the edge's environment
  cirrus edge sign-url URL [--ttl SECONDS] [--client-prefix CIDR] [--path-prefix PATH]
                       [--config FILE]        print URL signed with its domain's first key
                                               (default 300 s); the token, cookie and expiry
                                               go to stderr
  cirrus nsd-config [--secondary NAME] [--master ADDR[@PORT]] [--notify-from ADDR]
                                               print the NSD configuration of a secondary
                                               (key, request-xfr, allow-notify, zone)
  cirrus cookies rotate [--config FILE]        rotate the DNS cookie secrets in the store;
                                               running instances follow within
                                               dns.cookies.pollSeconds
  cirrus dnssec keys|ds [--config FILE]        the zone's DNSSEC keys (state, times, DNSKEY,
                                               DS), or the DS its parent should serve now
  cirrus dnssec rollover [--algorithm NAME] [--config FILE]
                                               begin a CSK rollover (README "Key rollover")
  cirrus dnssec rollover complete [--config FILE]
                                               confirm that the parent's DS names the new
                                               key: the old key retires, then is removed
  cirrus --help | --version

The config file is JSON or YAML (CIRRUS_CONFIG also names it). Environment overrides:
CNAME_BASE_DOMAIN, REDIS_URL, REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS, REDIS_TLS_CA,
REDIS_TLS_CERT, REDIS_TLS_KEY, REDIS_SENTINELS, REDIS_SENTINEL_NAME, STATE_FILE,
DNS_LISTEN, API_LISTEN, DNS_NSID, SEED_DIR, LOG_LEVEL, GSLB_TTL. See README.md.`;

async function serve(configFile: string | undefined): Promise<void> {
  const config = loadConfig({ file: configFile });
  const logger = createLogger(config.log.level);
  const cirrus = new Cirrus({ config, logger });
  await cirrus.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    void cirrus.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function withStore<T>(
  configFile: string | undefined,
  fn: (c: ReturnType<typeof loadConfig>, r: Repositories) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ file: configFile });
  const logger = silentLogger();
  const repos = repositories(openStore(config, logger), logger);
  try {
    await repos.store.start();
    return await fn(config, repos);
  } finally {
    await repos.store.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      name: { type: 'string', default: 'admin' },
      country: { type: 'string', multiple: true },
      asn: { type: 'string', multiple: true },
      out: { type: 'string', short: 'o' },
      type: { type: 'string' },
      ipv4: { type: 'string' },
      ipv6: { type: 'string' },
      pool: { type: 'string' },
      secondary: { type: 'string' },
      master: { type: 'string' },
      'notify-from': { type: 'string' },
      ttl: { type: 'string' },
      'client-prefix': { type: 'string' },
      'path-prefix': { type: 'string' },
      algorithm: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  const [cmd, sub] = positionals;
  if (values.version) {
    console.log(process.env.npm_package_version ?? '0.1.0');
    return 0;
  }
  if (values.help || !cmd) {
    console.log(HELP);
    return values.help ? 0 : 1;
  }
  if (cmd === 'serve') {
    await serve(values.config);
    return -1;
  }
  if (cmd === 'token' && sub === 'create') {
    const { token, record } = await withStore(values.config, (_c, repos) =>
      createToken(repos, values.name ?? 'admin'),
    );
    console.error(`token ${record.id} (${record.name}) created; it is shown only this once:`);
    console.log(token);
    return 0;
  }
  if (cmd === 'cookies' && sub === 'rotate') {
    const rotated = await withStore(values.config, (_c, repos) =>
      rotateStoredSecrets(repos.cookies),
    );
    console.log(`dns cookie secrets rotated at ${new Date(rotated.rotatedAt).toISOString()}`);
    return 0;
  }
  if (cmd === 'zone' && sub === 'export') {
    const text = await withStore(values.config, async (config, repos) => {
      // A memory-only store starts empty in this process too: export what a server
      // started with the same settings would serve, i.e. the seed.
      if (!redisConnection(config.store) && !config.store.file && config.seed.dir) {
        await seedStore(config, repos, config.seed.dir);
      }
      return exportZone(await snapshotFromStore(config, snapshotSource(repos), { generation: 0 }));
    });
    process.stdout.write(text);
    return 0;
  }
  if (cmd === 'snapshot' && sub === 'release') {
    await withStore(values.config, (_c, repos) => requestRelease(repos.releases));
    console.error(
      `release requested: each instance publishes what it holds within snapshot.gate.recheckMs ` +
        `(a change held within the next ${RELEASE_WINDOW_MS / 1000} s is released too)`,
    );
    return 0;
  }
  if (cmd === 'nsd-config') {
    const text = await withStore(values.config, async (config, repos) =>
      nsdConfig(config, new Peers(config.xfr, await repos.xfr.getPeers()), {
        secondary: values.secondary,
        master: values.master,
        notifyFrom: values['notify-from'],
      }),
    );
    process.stdout.write(text);
    return 0;
  }
  if (cmd === 'geo' && sub === 'build') {
    if (!values.out) throw new ValidationError('geo build needs --out FILE.mmdb');
    if (positionals.length > 2)
      throw new ValidationError(
        `geo build: unexpected ${positionals.slice(2).join(' ')} (give --country or --asn before each CSV)`,
      );
    const started = performance.now();
    const { build, type, rows, unknownCountries } = await buildGeoDatabase({
      country: values.country ?? [],
      asn: values.asn ?? [],
      type: values.type,
    });
    await writeFileAtomic(values.out, build.buffer);
    const seconds = (performance.now() - started) / 1000;
    if (unknownCountries.length > 0)
      console.error(`no continent known for: ${unknownCountries.join(' ')}`);
    console.log(
      `${values.out}: ${type}, ${rows} rows, ${build.networks} networks, ${build.records} records, ` +
        `IPv${build.ipVersion} tree of ${build.nodeCount} nodes (${build.recordSize}-bit records), ` +
        `${build.buffer.length} bytes, ${seconds.toFixed(2)} s`,
    );
    return 0;
  }
  if (cmd === 'edge' && sub === 'enroll') {
    const node = positionals[2];
    if (!node) throw new ValidationError('edge enroll needs a node id', 'node');
    const e = await withStore(values.config, (config, repos) =>
      enrollEdge(config, repos, {
        node,
        ...(values.ipv4 ? { ipv4: values.ipv4 } : {}),
        ...(values.ipv6 ? { ipv6: values.ipv6 } : {}),
        ...(values.pool ? { pool: values.pool } : {}),
      }),
    );
    console.error(
      `node ${e.node.id} ${e.created ? 'registered' : 'already registered'}; Redis user ${e.user} ` +
        'can read cdn:dom:*, cdn:cert:*, its cdn:edge key and subscribe to the edge channels',
    );
    for (const [k, v] of Object.entries(e.env)) console.log(`${k}=${v}`);
    return 0;
  }
  if (cmd === 'edge' && sub === 'sign-url') {
    const url = positionals[2];
    if (!url || !/^https?:\/\//.test(url))
      throw new ValidationError('edge sign-url needs an http(s) URL', 'url');
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= 31_536_000))
      throw new ValidationError('--ttl must be whole seconds, 1 to 31536000', 'ttl');
    const clientPrefix = values['client-prefix'];
    if (clientPrefix !== undefined && !validCidr(clientPrefix))
      throw new ValidationError(
        `--client-prefix ${clientPrefix} is not an address or prefix`,
        'client-prefix',
      );
    const pathPrefix = values['path-prefix'];
    if (pathPrefix !== undefined && !pathPrefix.startsWith('/'))
      throw new ValidationError('--path-prefix must start with /', 'path-prefix');
    const domain = normalizeName(new URL(url).hostname);
    const d = await withStore(values.config, (_c, repos) => repos.domains.get(domain));
    if (!d) throw new ValidationError(`${domain} is not a managed domain`, 'url');
    if (!d.signing) throw new ValidationError(`${domain} has no signing keys (signing)`, 'url');
    const signed = signUrl(d.signing, url, {
      ...(ttl !== undefined ? { ttl } : {}),
      ...(clientPrefix !== undefined ? { clientPrefix } : {}),
      ...(pathPrefix !== undefined ? { pathPrefix } : {}),
    });
    console.log(signed.url);
    console.error(`key ${signed.keyId}, expires ${signed.expires}\ncookie: ${signed.cookie}`);
    return 0;
  }
  if (cmd === 'dnssec') {
    const code = await withStore(values.config, (config, repos) =>
      dnssecCommand(config, repos, positionals.slice(1), values.algorithm),
    );
    if (code >= 0) return code;
  }
  console.error(`unknown command: ${positionals.join(' ')}\n\n${HELP}`);
  return 2;
}

/** `cirrus dnssec …` on the store; -1 when the words name no dnssec command. */
async function dnssecCommand(
  config: ReturnType<typeof loadConfig>,
  repos: Repositories,
  words: string[],
  algorithm: string | undefined,
): Promise<number> {
  const zone = config.zone.name;
  const timings = async (): Promise<RolloverTimings> =>
    rolloverTimings(
      rolloverParameters(
        config,
        await snapshotFromStore(config, snapshotSource(repos), { generation: 0 }),
      ),
    );
  const showKeys = async () => {
    const keys = await repos.dnssec.list(zone);
    const now = Date.now();
    const status = rolloverStatus(keys, now);
    console.log(
      `zone ${zone}: rollover ${status.phase}` +
        (status.next
          ? `, next: ${status.next.event} of ${status.next.key} at ${new Date(status.next.at).toISOString()}`
          : ''),
    );
    for (const k of keyViews(zone, keys, now, config.dnssec.keyTtl)) {
      console.log(
        `key ${k.id} tag ${k.tag} ${k.algorithmName} ${k.state}${k.parentDs ? ' (parent DS)' : ''}` +
          ` publish ${k.publish} activate ${k.activate} retire ${k.retire ?? '-'} remove ${k.remove ?? '-'}`,
      );
      console.log(`  ${k.dnskey}`);
      console.log(`  ${k.ds}`);
    }
  };
  const [what, step] = words;
  if (what === 'keys' && step === undefined) {
    await showKeys();
    return 0;
  }
  if (what === 'ds' && step === undefined) {
    const ds = parentDs(zone, await repos.dnssec.list(zone), Date.now());
    if (ds.length === 0) throw new ValidationError(`${zone} has no DNSSEC key (DNSSEC=on)`);
    for (const d of ds) console.log(d.text);
    return 0;
  }
  if (what === 'rollover' && (step === undefined || step === 'complete')) {
    if (!config.dnssec.enabled)
      throw new ValidationError('DNSSEC is off (dnssec.enabled, DNSSEC=on)', 'dnssec.enabled');
    if (algorithm !== undefined && algorithm !== 'ecdsap256sha256' && algorithm !== 'ed25519')
      throw new ValidationError('--algorithm is ecdsap256sha256 or ed25519', 'algorithm');
    const rollover = new DnssecRollover(repos.dnssec, zone);
    if (step === 'complete') await rollover.complete(await timings());
    else
      await rollover.begin(await timings(), {
        algorithm:
          algorithm === undefined ? undefined : algorithmNumber(algorithm as AlgorithmName),
      });
    await showKeys();
    return 0;
  }
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const where = err instanceof CirrusError && err.field ? ` (field: ${err.field})` : '';
    const code =
      err instanceof CirrusError && err.code === 'STORE_UNAVAILABLE' ? `${err.code}: ` : '';
    console.error(`cirrus: ${code}${errorMessage(err)}${where}`);
    process.exitCode = 1;
  },
);
