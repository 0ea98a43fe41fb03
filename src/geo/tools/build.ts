// `cirrus geo build`: compiles country and ASN CSV ranges into one .mmdb whose records
// have the GeoLite2 shape (`country.iso_code`, `continent.code`,
// `autonomous_system_number`, `autonomous_system_organization`), so our reader and
// other GeoIP tools read it alike.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ValidationError, errorMessage } from '../../lib/errors.js';
import { continentOf } from '../continents.js';
import { parseAsnCsv, parseCountryCsv } from './csv-ranges.js';
import { MmdbWriter, type MmdbBuild, type MmdbValue } from './mmdb-writer.js';

export interface GeoBuildOptions {
  /** Country CSVs, applied in order (a later row wins where ranges overlap). */
  readonly country: readonly string[];
  /** ASN CSVs, applied in order over the country records (merged into them). */
  readonly asn: readonly string[];
  /** `database_type`; default from the content: Cirrus-Country, Cirrus-ASN or Cirrus-Country-ASN. */
  readonly type?: string | undefined;
  readonly buildEpoch?: number;
}

export interface GeoBuildResult {
  readonly build: MmdbBuild;
  readonly type: string;
  readonly rows: number;
  /** Country codes the continent table does not know (their records have no continent). */
  readonly unknownCountries: readonly string[];
}

type Row = { readonly [key: string]: MmdbValue };

async function readCsv(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ValidationError(`cannot read ${file}: ${errorMessage(err)}`);
  }
}

/** Builds the database image in memory. Throws a ValidationError naming file and line. */
export async function buildGeoDatabase(opts: GeoBuildOptions): Promise<GeoBuildResult> {
  if (opts.country.length === 0 && opts.asn.length === 0)
    throw new ValidationError('geo build needs at least one --country or --asn CSV');
  const type =
    opts.type ??
    (opts.asn.length === 0
      ? 'Cirrus-Country'
      : opts.country.length === 0
        ? 'Cirrus-ASN'
        : 'Cirrus-Country-ASN');
  const sources = [...opts.country, ...opts.asn].map((f) => basename(f)).join(', ');
  const writer = new MmdbWriter({
    databaseType: type,
    description: { en: `Cirrus GSLB geo build from ${sources}` },
    languages: ['en'],
    ...(opts.buildEpoch === undefined ? {} : { buildEpoch: opts.buildEpoch }),
  });
  let rows = 0;
  const unknown = new Set<string>();

  // One record object per distinct value: the writer recognises a repeated object cheaply.
  const countryRecords = new Map<string, Row>();
  for (const file of opts.country) {
    for (const row of parseCountryCsv(await readCsv(file), file)) {
      rows++;
      let record = countryRecords.get(row.country);
      if (!record) {
        const continent = continentOf(row.country);
        if (!continent) unknown.add(row.country);
        record = {
          country: { iso_code: row.country },
          ...(continent ? { continent: { code: continent } } : {}),
        };
        countryRecords.set(row.country, record);
      }
      for (const n of row.networks) writer.insert(n, record);
    }
  }

  const asnRecords = new Map<string, Row>();
  const merge = opts.country.length > 0;
  for (const file of opts.asn) {
    for (const row of parseAsnCsv(await readCsv(file), file)) {
      rows++;
      const key = `${row.asn}\0${row.org}`;
      let record = asnRecords.get(key);
      if (!record) {
        record = {
          autonomous_system_number: row.asn,
          ...(row.org ? { autonomous_system_organization: row.org } : {}),
        };
        asnRecords.set(key, record);
      }
      for (const n of row.networks) {
        if (merge) writer.merge(n, record);
        else writer.insert(n, record);
      }
    }
  }
  return { build: writer.build(), type, rows, unknownCountries: [...unknown].sort() };
}

/**
 * Writes `data` to `file` (creating its folder) through a temporary file and a rename, so
 * a server watching the file never sees half of it.
 */
export async function writeFileAtomic(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
