// The GeoLookup over .mmdb files: MaxMind GeoIP2/GeoLite2 Country, City and ASN, and the
// flat `country_code` schema of the free ip-location-db databases. It decides which
// fields a record yields, how several files combine, and when a replaced file is taken
// up; how a location turns into an answer is the GSLB engine's business.
//
// Files are read whole into memory and checked before use; every `geo.watchIntervalMs`
// each file is stat'ed, and a changed one is read, checked and swapped in by one
// assignment. A file that fails the check is logged and counted, and the copy already
// loaded keeps serving.
import { readFile, stat } from 'node:fs/promises';
import { isIP, isIPv4 } from 'node:net';
import { basename } from 'node:path';
import { Reader, type Response } from 'maxmind';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { ConfigError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { continentOf } from './continents.js';
import type { GeoLookup, GeoRecord } from './geo-record.js';
import { geoMetrics, type GeoMetrics } from './metrics.js';

/** What one database record says, whatever its schema. */
export interface GeoFields {
  readonly country?: string;
  readonly continent?: string;
  readonly lat?: number;
  readonly lon?: number;
  readonly asn?: number;
  readonly asOrg?: string;
}

/** A database loaded and checked. */
export interface GeoDatabase {
  readonly file: string;
  /** The file's base name: the metrics label. */
  readonly name: string;
  readonly type: string;
  readonly ipVersion: 4 | 6;
  readonly buildEpoch: number;
  readonly nodeCount: number;
  /** Whether its records may hold location fields / ASN fields (from `database_type`). */
  readonly hasLocation: boolean;
  readonly hasAsn: boolean;
  readonly reader: Reader<Response>;
  /** Records already read, by the decoded object (the reader's cache hands out the same one). */
  readonly fields: WeakMap<object, GeoFields>;
}

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const READER_CACHE_ENTRIES = 20_000;

/** The reader's record cache: a Map emptied when full, which is enough for a hot set. */
class RecordCache {
  private readonly map = new Map<string | number, unknown>();
  get(key: string | number): unknown {
    return this.map.get(key);
  }
  set(key: string | number, value: unknown): void {
    if (this.map.size >= READER_CACHE_ENTRIES) this.map.clear();
    this.map.set(key, value);
  }
}

/**
 * Which field groups a database can answer, from its `database_type`: ASN and ISP
 * databases only the ASN, Country and City databases only the location; anything else
 * (our own builds, unknown vendors) is taken to hold both.
 */
function roles(type: string): { hasLocation: boolean; hasAsn: boolean } {
  const t = type.toLowerCase();
  const asn = /asn|isp/.test(t);
  const location = /country|city/.test(t);
  return { hasLocation: location || !asn, hasAsn: asn || !location };
}

/**
 * Opens a database image and checks it: the metadata of format 2, a search tree that
 * fits before the metadata, the 16 zero bytes after the tree, and lookups that decode.
 * Throws an Error saying what is wrong.
 */
export function openDatabase(file: string, buf: Buffer): GeoDatabase {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b)
    throw new Error('the file is gzip-compressed; decompress it first');
  const marker = buf.lastIndexOf(METADATA_MARKER);
  if (marker < 0) throw new Error('not a MaxMind DB file (no metadata marker; truncated?)');
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(buf, { cache: new RecordCache() });
  } catch (err) {
    throw new Error(`unreadable metadata: ${errorMessage(err)}`, { cause: err });
  }
  const m = reader.metadata;
  if (m.binaryFormatMajorVersion !== 2)
    throw new Error(`binary format ${m.binaryFormatMajorVersion} (only 2 is supported)`);
  if (m.ipVersion !== 4 && m.ipVersion !== 6) throw new Error(`ip_version ${m.ipVersion}`);
  if (!Number.isInteger(m.nodeCount) || m.nodeCount < 1) throw new Error('no search tree');
  if (m.searchTreeSize + 16 > marker)
    throw new Error(`search tree of ${m.nodeCount} nodes runs past the data section`);
  if (buf.subarray(m.searchTreeSize, m.searchTreeSize + 16).some((b) => b !== 0))
    throw new Error('no data section separator after the search tree');
  const probes = ['0.0.0.0', '1.1.1.1', '8.8.8.8', '203.0.113.1', '255.255.255.255'];
  if (m.ipVersion === 6) probes.push('::', '2001:db8::1', '2a00::1', 'ffff::1');
  for (const ip of probes) {
    try {
      reader.getWithPrefixLength(ip);
    } catch (err) {
      throw new Error(`lookup of ${ip} fails: ${errorMessage(err)}`, { cause: err });
    }
  }
  const type = typeof m.databaseType === 'string' ? m.databaseType : '';
  return {
    file,
    name: basename(file),
    type,
    ipVersion: m.ipVersion,
    buildEpoch: m.buildEpoch.getTime() / 1000,
    nodeCount: m.nodeCount,
    ...roles(type),
    reader,
    fields: new WeakMap(),
  };
}

type Loose = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function num(v: unknown): number | undefined {
  const n =
    typeof v === 'number'
      ? v
      : typeof v === 'bigint'
        ? Number(v)
        : typeof v === 'string' && v !== ''
          ? Number(v)
          : NaN;
  return Number.isFinite(n) ? n : undefined;
}

const sub = (rec: Loose, key: string): Loose =>
  typeof rec[key] === 'object' && rec[key] !== null ? (rec[key] as Loose) : {};

/**
 * The fields of one record in any of the schemas we read: GeoIP2 (`country.iso_code`,
 * falling back to `registered_country`; `continent.code`; `location.latitude`;
 * `autonomous_system_number`, also under `traits`) and the flat one of ip-location-db
 * (`country_code`, `latitude`, `longitude`). A country without a continent gets it from
 * the country table.
 */
export function recordFields(rec: Loose): GeoFields {
  const country = (
    str(sub(rec, 'country').iso_code) ??
    str(sub(rec, 'registered_country').iso_code) ??
    str(rec.country_code)
  )?.toUpperCase();
  const continent =
    str(sub(rec, 'continent').code) ?? (country === undefined ? undefined : continentOf(country));
  const location = sub(rec, 'location');
  const lat = num(location.latitude) ?? num(rec.latitude);
  const lon = num(location.longitude) ?? num(rec.longitude);
  const traits = sub(rec, 'traits');
  const asn = num(rec.autonomous_system_number) ?? num(traits.autonomous_system_number);
  const asOrg =
    str(rec.autonomous_system_organization) ?? str(traits.autonomous_system_organization);
  return {
    ...(country === undefined ? {} : { country }),
    ...(continent === undefined ? {} : { continent }),
    ...(lat === undefined || lon === undefined ? {} : { lat, lon }),
    ...(asn === undefined ? {} : { asn }),
    ...(asOrg === undefined ? {} : { asOrg }),
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NOTHING: GeoFields = {};

/**
 * Looks `ip` up in each database in order. Earlier databases win per field group: the
 * country with its continent, the coordinates, the ASN with its organisation. Each prefix
 * is the longest network depth among the databases that could supply that group, found
 * or not: over that network none of their answers changes.
 */
export function lookupIn(dbs: readonly GeoDatabase[], ip: string): GeoRecord {
  const out: Mutable<GeoRecord> = { geoPrefix: 0, asnPrefix: 0 };
  if (dbs.length === 0) return out;
  let family = isIP(ip);
  let address = ip;
  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
  if (family === 6 && /^::ffff:/i.test(ip) && isIPv4(ip.slice(7))) {
    address = ip.slice(7);
    family = 4;
  }
  if (family === 0) return out;
  for (const db of dbs) {
    // An IPv4-only tree knows nothing of IPv6 (and would answer from its IPv4 bits).
    if (family === 6 && db.ipVersion === 4) continue;
    let data: Response | null;
    let prefix: number;
    try {
      // For an IPv4 address in an IPv6 tree the reader starts at ::/96 and counts the
      // depth from there, so the prefix is already an IPv4 one (0–32).
      [data, prefix] = db.reader.getWithPrefixLength(address);
    } catch {
      continue;
    }
    let f: GeoFields = NOTHING;
    if (data !== null && typeof data === 'object') {
      const seen = db.fields.get(data);
      if (seen === undefined) db.fields.set(data, (f = recordFields(data as Loose)));
      else f = seen;
    }
    // A record that does carry a group bounds its prefix whatever the type name says.
    const location = f.country !== undefined || f.continent !== undefined || f.lat !== undefined;
    if ((db.hasLocation || location) && prefix > out.geoPrefix) out.geoPrefix = prefix;
    if ((db.hasAsn || f.asn !== undefined) && prefix > out.asnPrefix) out.asnPrefix = prefix;
    if (out.country === undefined && f.country !== undefined) {
      out.country = f.country;
      if (f.continent === undefined) delete out.continent;
      else out.continent = f.continent;
    } else if (out.country === undefined && out.continent === undefined && f.continent) {
      out.continent = f.continent;
    }
    if (out.lat === undefined && f.lat !== undefined && f.lon !== undefined) {
      out.lat = f.lat;
      out.lon = f.lon;
    }
    if (out.asn === undefined && f.asn !== undefined) {
      out.asn = f.asn;
      if (f.asOrg !== undefined) out.asOrg = f.asOrg;
    }
  }
  return out;
}

export interface GeoIpOptions {
  readonly config: Config['geo'];
  readonly logger: Logger;
  readonly registry: Registry;
}

/** The GeoIP databases of `geo.databases`, with their lifecycle: start → stop. */
export class GeoIp implements GeoLookup {
  private readonly config: Config['geo'];
  private readonly logger: Logger;
  private readonly metrics: GeoMetrics;
  /** Replaced as a whole, so a lookup sees one consistent set. */
  private dbs: readonly GeoDatabase[] = [];
  /** Per file: the stat signature of what is loaded, or of the last copy that failed. */
  private readonly loadedSig = new Map<string, string>();
  private readonly failedSig = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(opts: GeoIpOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.metrics = geoMetrics(opts.registry);
  }

  lookup(ip: string): GeoRecord {
    return lookupIn(this.dbs, ip);
  }

  /** A reload replaces the array: its identity is the version of the data. */
  version(): unknown {
    return this.dbs;
  }

  /** The databases being served, in lookup order. */
  databases(): readonly GeoDatabase[] {
    return this.dbs;
  }

  /** Loads every configured file; throws a ConfigError naming the first that fails. */
  async start(): Promise<void> {
    const files = this.config.databases;
    const loaded = await Promise.allSettled(files.map((f) => this.load(f)));
    const dbs: GeoDatabase[] = [];
    for (const [i, r] of loaded.entries()) {
      if (r.status === 'rejected')
        throw new ConfigError(
          `GeoIP database ${files[i]}: ${errorMessage(r.reason)}`,
          `geo.databases[${i}]`,
          r.reason,
        );
      dbs.push(r.value.db);
      this.loadedSig.set(r.value.db.file, r.value.sig);
    }
    this.dbs = dbs;
    for (const db of dbs) {
      this.metrics.buildEpoch.labels(db.name).set(db.buildEpoch);
      for (const result of ['success', 'failed'])
        this.metrics.reloads.labels(db.name, result).inc(0);
    }
    if (dbs.length > 0) {
      this.logger.info(
        { databases: dbs.map((d) => ({ file: d.file, type: d.type, buildEpoch: d.buildEpoch })) },
        'GeoIP databases loaded',
      );
      if (this.timer) clearInterval(this.timer);
      this.timer = setInterval(() => void this.check(), this.config.watchIntervalMs);
      this.timer.unref();
    }
  }

  /** Stops watching; safe after a failed start and more than once. Lookups keep working. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** Checks every file for a replacement now (the timer does this every watchIntervalMs). */
  check(): Promise<void> {
    this.checking ??= this.checkFiles().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async load(file: string): Promise<{ db: GeoDatabase; sig: string }> {
    const sig = signature(await stat(file));
    return { db: openDatabase(file, await readFile(file)), sig };
  }

  private async checkFiles(): Promise<void> {
    for (const file of new Set(this.dbs.map((d) => d.file))) {
      const name = basename(file);
      let sig: string;
      try {
        sig = signature(await stat(file));
      } catch (err) {
        // Gone (or being replaced): keep serving what is loaded, say so once.
        if (this.failedSig.get(file) !== 'missing') {
          this.failedSig.set(file, 'missing');
          this.metrics.reloads.labels(name, 'failed').inc();
          this.logger.warn(
            { file, err: errorMessage(err) },
            'GeoIP database file unreadable; keeping the loaded copy',
          );
        }
        continue;
      }
      if (sig === this.loadedSig.get(file) || sig === this.failedSig.get(file)) continue;
      try {
        const next = openDatabase(file, await readFile(file));
        this.dbs = this.dbs.map((d) => (d.file === file ? next : d));
        this.loadedSig.set(file, sig);
        this.failedSig.delete(file);
        this.metrics.buildEpoch.labels(name).set(next.buildEpoch);
        this.metrics.reloads.labels(name, 'success').inc();
        this.logger.info(
          { file, type: next.type, buildEpoch: next.buildEpoch },
          'GeoIP database reloaded',
        );
      } catch (err) {
        this.failedSig.set(file, sig);
        this.metrics.reloads.labels(name, 'failed').inc();
        this.logger.error(
          { file, err: errorMessage(err) },
          'GeoIP database replacement rejected; keeping the loaded copy',
        );
      }
    }
  }
}

function signature(st: { ino: number; size: number; mtimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}
