// Address ranges as the free GeoIP CSVs write them (first,last,… rows such as
// ip-location-db's, or network,… rows), turned into the CIDR networks an MMDB search
// tree stores. This module parses and splits; what a row means for a record is left to
// `cirrus geo build`.
import { ValidationError } from '../../lib/errors.js';
import { bytesToIPv6 } from '../../lib/ip.js';

/** A CIDR network; `address` has its host bits clear. */
export interface Network {
  readonly family: 4 | 6;
  readonly address: bigint;
  readonly prefix: number;
}

export interface CountryRow {
  readonly line: number;
  readonly networks: readonly Network[];
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string;
}

export interface AsnRow {
  readonly line: number;
  readonly networks: readonly Network[];
  readonly asn: number;
  /** Empty when the row has no organisation. */
  readonly org: string;
}

const bitsOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

function ipv4Value(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    // Decimal octets without leading zeros, as node:net's isIPv4 takes them.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    value = value * 256 + Number(p);
  }
  return value;
}

function ipv6Value(text: string): bigint | undefined {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  if (s.includes('.', lastColon)) {
    // An IPv4 tail (::ffff:192.0.2.1) stands for the last two groups.
    const v4 = ipv4Value(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const gap = s.indexOf('::');
  let groups: string[];
  if (gap < 0) {
    groups = s.split(':');
    if (groups.length !== 8) return undefined;
  } else {
    if (s.indexOf('::', gap + 1) >= 0) return undefined;
    const head = gap === 0 ? [] : s.slice(0, gap).split(':');
    const tail = gap + 2 === s.length ? [] : s.slice(gap + 2).split(':');
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  }
  let hex = '0x';
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    hex += g.padStart(4, '0');
  }
  return BigInt(hex);
}

/** An IPv4 or IPv6 address as a number; undefined if the text is not one. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (text.includes(':')) {
    const v6 = ipv6Value(text);
    return v6 === undefined ? undefined : { family: 6, value: v6 };
  }
  const v4 = ipv4Value(text);
  return v4 === undefined ? undefined : { family: 4, value: BigInt(v4) };
}

export function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return bytesToIPv6(Buffer.from(value.toString(16).padStart(32, '0'), 'hex'));
}

/** Parses `a.b.c.d/n` or `x::/n`; a bare address is a host network. Throws with the reason. */
export function parseNetwork(text: string): Network {
  const slash = text.indexOf('/');
  const addr = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!addr) throw new Error(`"${text}" is not an IP network`);
  const bits = bitsOf(addr.family);
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits)
    throw new Error(`"${text}": prefix length must be 0–${bits}`);
  const prefix = Number(prefixText);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  if ((addr.value & host) !== 0n)
    throw new Error(`"${text}" has host bits set (the /${prefix} network starts lower)`);
  return { family: addr.family, address: addr.value, prefix };
}

export function formatNetwork(n: Network): string {
  return `${formatAddress(n.family, n.address)}/${n.prefix}`;
}

/** The first and last address of a network. */
export function networkRange(n: Network): { first: bigint; last: bigint } {
  const size = 1n << BigInt(bitsOf(n.family) - n.prefix);
  return { first: n.address, last: n.address + size - 1n };
}

/**
 * The fewest CIDR networks that together cover exactly first..last (inclusive): at each
 * step the largest block that starts at `first` on its own boundary and ends by `last`.
 */
export function rangeToCidrs(family: 4 | 6, first: bigint, last: bigint): Network[] {
  const bits = bitsOf(family);
  const out: Network[] = [];
  let start = first;
  while (start <= last) {
    // log2 of the block: no more than the range holds, no more than start's alignment.
    let size = bitLength(last - start + 1n) - 1;
    if (start !== 0n) size = Math.min(size, bitLength(start & -start) - 1);
    out.push({ family, address: start, prefix: bits - size });
    start += 1n << BigInt(size);
  }
  return out;
}

const bitLength = (n: bigint) => n.toString(2).length;

/** Splits one CSV line (RFC 4180 quoting: "a, b" and "" for a quote). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i < line.length && line[i] !== ',') throw new Error('text after a quoted field');
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      fields.push(line.slice(i, end).trim());
      i = end;
    }
    if (i >= line.length) return fields;
    i++; // the comma
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}

/** The networks of a row's address part: one CIDR field, or first and last address fields. */
function rowNetworks(fields: readonly string[]): { networks: Network[]; rest: string[] } {
  const [a = '', b = ''] = fields;
  if (a.includes('/')) return { networks: [parseNetwork(a)], rest: fields.slice(1) };
  const first = parseAddress(a);
  if (!first) throw new Error(`"${a}" is not an IP address or network`);
  const last = parseAddress(b);
  if (!last) throw new Error(`"${b}" is not an IP address`);
  if (first.family !== last.family) throw new Error(`${a} and ${b} are of different families`);
  if (first.value > last.value) throw new Error(`range ${a}–${b} ends before it starts`);
  return { networks: rangeToCidrs(first.family, first.value, last.value), rest: fields.slice(2) };
}

/**
 * The data lines of a CSV file, numbered from 1. Blank lines and `#` comments are skipped,
 * and so is a first line whose first field is a column name (a header such as
 * `network,country_code`); any other line must be data.
 */
function* dataLines(text: string, file: string): Generator<{ line: number; fields: string[] }> {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  let seenData = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const line = i + 1;
    let fields: string[];
    try {
      fields = splitCsvLine(raw);
    } catch (err) {
      throw rowError(file, line, (err as Error).message);
    }
    if (!seenData) {
      seenData = true;
      if (/^[A-Za-z_][\w ]*$/.test(fields[0] ?? '')) continue;
    }
    yield { line, fields };
  }
}

function rowError(file: string, line: number, message: string): ValidationError {
  return new ValidationError(`${file}:${line}: ${message}`);
}

/** `first,last,country_code` or `network,country_code` rows. Throws naming file and line. */
export function parseCountryCsv(text: string, file: string): CountryRow[] {
  const rows: CountryRow[] = [];
  for (const { line, fields } of dataLines(text, file)) {
    const isCidr = (fields[0] ?? '').includes('/');
    if (fields.length !== (isCidr ? 2 : 3))
      throw rowError(
        file,
        line,
        `expected first,last,country_code or network,country_code, got ${fields.length} fields`,
      );
    let parsed: ReturnType<typeof rowNetworks>;
    try {
      parsed = rowNetworks(fields);
    } catch (err) {
      throw rowError(file, line, (err as Error).message);
    }
    const country = (parsed.rest[0] ?? '').toUpperCase();
    if (!/^[A-Z]{2}$/.test(country))
      throw rowError(file, line, `"${parsed.rest[0]}" is not a two-letter country code`);
    rows.push({ line, networks: parsed.networks, country });
  }
  return rows;
}

/** `first,last,asn[,org]` or `network,asn[,org]` rows (`AS64500` or `64500`). Throws naming file and line. */
export function parseAsnCsv(text: string, file: string): AsnRow[] {
  const rows: AsnRow[] = [];
  for (const { line, fields } of dataLines(text, file)) {
    const base = (fields[0] ?? '').includes('/') ? 2 : 3;
    if (fields.length !== base && fields.length !== base + 1)
      throw rowError(
        file,
        line,
        `expected first,last,asn,org or network,asn,org, got ${fields.length} fields`,
      );
    let parsed: ReturnType<typeof rowNetworks>;
    try {
      parsed = rowNetworks(fields);
    } catch (err) {
      throw rowError(file, line, (err as Error).message);
    }
    const [asnText = '', org = ''] = parsed.rest;
    const digits = asnText.replace(/^AS/i, '');
    const asn = Number(digits);
    if (!/^\d{1,10}$/.test(digits) || asn < 1 || asn > 0xffffffff)
      throw rowError(file, line, `"${asnText}" is not an AS number (1–4294967295)`);
    rows.push({ line, networks: parsed.networks, asn, org });
  }
  return rows;
}
