// RFC 1035 §5 master-file text → records. Supports $ORIGIN, $TTL, '@', relative names,
// an omitted owner (repeat the previous one), TTL and class in either order, parentheses
// across lines, quoted strings and ';' comments. $INCLUDE is refused: zone text reaches us
// through the API and the store, never from a trusted file system.
import { RRClass, typeFromName } from '../wire/constants.js';
import { nameProblem, normalizeName } from '../lib/dnsname.js';
import { ZoneError, errorMessage } from '../lib/errors.js';
import { parseRdata } from '../wire/rdata.js';
import { rr, type ResourceRecord } from '../wire/record.js';

export interface ParseOptions {
  origin: string;
  defaultTtl: number;
}

interface Line {
  tokens: string[];
  /** True when the line starts with whitespace: the owner is the previous one. */
  blankOwner: boolean;
  lineNo: number;
}

function tokenize(text: string): Line[] {
  const lines: Line[] = [];
  let tokens: string[] = [];
  let depth = 0;
  let startLine = 1;
  let blankOwner = false;
  let lineNo = 1;
  let atLineStart = true;
  let i = 0;
  const flush = (): void => {
    if (tokens.length) lines.push({ tokens, blankOwner, lineNo: startLine });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') {
      lineNo++;
      i++;
      if (depth === 0) {
        flush();
        atLineStart = true;
      }
      continue;
    }
    if (atLineStart && depth === 0) {
      blankOwner = c === ' ' || c === '\t';
      startLine = lineNo;
      atLineStart = false;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      if (depth === 0) throw new ZoneError(`line ${lineNo}: ")" without "("`);
      depth--;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') j++;
        if (text[j] === '\n') throw new ZoneError(`line ${lineNo}: unterminated string`);
        j++;
      }
      if (j >= text.length) throw new ZoneError(`line ${lineNo}: unterminated string`);
      tokens.push(text.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !' \t\r\n;()"'.includes(text[j] as string)) {
        if (text[j] === '\\') j++;
        j++;
      }
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  if (depth !== 0) throw new ZoneError(`line ${startLine}: "(" is never closed`);
  flush();
  return lines;
}

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A TTL in seconds, or BIND's 1h30m form. */
export function parseTtl(token: string): number | undefined {
  if (/^\d+$/.test(token)) return Number(token);
  const m = token.toLowerCase().match(/^(\d+[smhdw])+$/);
  if (!m) return undefined;
  let total = 0;
  for (const part of token.toLowerCase().matchAll(/(\d+)([smhdw])/g)) {
    total += Number(part[1]) * (TTL_UNITS[part[2] as string] as number);
  }
  return total;
}

export function parseZoneText(text: string, opts: ParseOptions): ResourceRecord[] {
  let origin = normalizeName(opts.origin);
  let defaultTtl = opts.defaultTtl;
  let lastOwner: string | undefined;
  const records: ResourceRecord[] = [];

  const resolve = (token: string): string => {
    if (token === '@') return origin;
    if (token.endsWith('.')) return normalizeName(token);
    return normalizeName(origin === '' ? token : `${token}.${origin}`);
  };

  for (const line of tokenize(text)) {
    const where = `line ${line.lineNo}`;
    try {
      const tokens = [...line.tokens];
      const first = tokens[0] as string;
      if (!line.blankOwner && first.startsWith('$')) {
        const directive = first.toUpperCase();
        if (directive === '$ORIGIN' && tokens[1]) origin = resolve(tokens[1]);
        else if (directive === '$TTL' && tokens[1] && parseTtl(tokens[1]) !== undefined) {
          defaultTtl = parseTtl(tokens[1]) as number;
        } else throw new Error(`unsupported or incomplete directive ${first}`);
        continue;
      }
      let owner: string;
      if (line.blankOwner) {
        if (lastOwner === undefined) throw new Error('the first record needs an owner name');
        owner = lastOwner;
      } else {
        owner = resolve(tokens.shift() as string);
        const problem = nameProblem(owner, { wildcard: true });
        if (problem) throw new Error(`owner "${first}" ${problem}`);
      }
      lastOwner = owner;
      let ttl: number | undefined;
      let cls: number = RRClass.IN;
      for (let k = 0; k < 2 && tokens.length; k++) {
        const t = tokens[0] as string;
        const asTtl = parseTtl(t);
        if (ttl === undefined && asTtl !== undefined) {
          ttl = asTtl;
          tokens.shift();
        } else if (/^(IN|CH|CS|HS)$/i.test(t)) {
          if (t.toUpperCase() !== 'IN') throw new Error(`class ${t} is not served; use IN`);
          cls = RRClass.IN;
          tokens.shift();
        }
      }
      const typeToken = tokens.shift();
      if (typeToken === undefined) throw new Error('record has no type');
      const type = typeFromName(typeToken);
      if (type === undefined) throw new Error(`unknown type "${typeToken}"`);
      const finalTtl = ttl ?? defaultTtl;
      if (finalTtl > 0x7fffffff) throw new Error('TTL exceeds 2^31-1 (RFC 2181 §8)');
      const rdata = parseRdata(type, tokens, resolve);
      records.push({ ...rr(owner, type, finalTtl, rdata), class: cls });
    } catch (err) {
      if (err instanceof ZoneError) throw err;
      throw new ZoneError(`${where}: ${errorMessage(err)}`, err);
    }
  }
  return records;
}
