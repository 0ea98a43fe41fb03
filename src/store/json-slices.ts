// JSON text of a state object written a slice at a time: byte for byte what JSON.stringify
// gives for the same object with its Map members as plain objects and the Sets in its
// plain members as arrays, but a Map member (the embedded store's domains, 100,000 at
// scale) and such a Set (the set of their names) are serialised a few thousand entries per
// slice, so the writer can hand the event loop back between slices.

/**
 * Everything is captured at the call: plain members are stringified at once (they may be
 * changed in place later, as nodes' health is), Map members' entries are copied into an
 * array (their values must be replaced, never changed in place, for the slices written
 * later to show the state of the call). A Set that is a value of a plain member is taken
 * as it is, uncopied: the caller must never change it again (the keyspace copies a set it
 * handed out before writing to it). The slices joined are one JSON text.
 */
export function jsonSlices(state: object, entriesPerSlice = 2000): Iterable<string> {
  const parts: Array<string | MapCopy | SetPart> = [];
  let sep = '{';
  for (const [key, member] of Object.entries(state)) {
    if (member instanceof Map) {
      // Two flat arrays, not an array per entry: 100,000 small arrays cost a young-generation
      // collection of 10–30 ms at once.
      const map = member as Map<string, unknown>;
      const copy = { keys: Array.from(map.keys()), values: Array.from(map.values()) };
      parts.push(`${sep}${JSON.stringify(key)}:{`, copy, '}');
    } else if (holdsSet(member)) {
      parts.push(`${sep}${JSON.stringify(key)}:{`);
      let inner = '';
      for (const [k, v] of Object.entries(member)) {
        if (v instanceof Set) {
          parts.push(`${inner}${JSON.stringify(k)}:[`, { members: v as ReadonlySet<unknown> }, ']');
        } else {
          const text = JSON.stringify(v) as string | undefined;
          if (text === undefined) continue;
          parts.push(`${inner}${JSON.stringify(k)}:${text}`);
        }
        inner = ',';
      }
      parts.push('}');
    } else {
      // JSON.stringify leaves out a member whose value is undefined; so do we.
      const text = JSON.stringify(member) as string | undefined;
      if (text === undefined) continue;
      parts.push(`${sep}${JSON.stringify(key)}:${text}`);
    }
    sep = ',';
  }
  parts.push(sep === '{' ? '{}' : '}');
  return slicesOf(parts, Math.max(1, entriesPerSlice));
}

interface MapCopy {
  keys: string[];
  values: unknown[];
}

/** A Set written as a JSON array, its members read when the slices are. */
interface SetPart {
  members: ReadonlySet<unknown>;
}

/** A plain object (not an array) with a Set among its own values. */
function holdsSet(member: unknown): member is Record<string, unknown> {
  if (typeof member !== 'object' || member === null || Array.isArray(member)) return false;
  for (const v of Object.values(member)) if (v instanceof Set) return true;
  return false;
}

function* slicesOf(parts: Array<string | MapCopy | SetPart>, size: number) {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    if ('members' in part) {
      // JSON.stringify writes null for an array element it cannot represent; so do we.
      let n = 0;
      for (const m of part.members) {
        out += `${n === 0 ? '' : ','}${(JSON.stringify(m) as string | undefined) ?? 'null'}`;
        if (++n % size === 0) {
          yield out;
          out = '';
        }
      }
      continue;
    }
    let sep = '';
    const { keys, values } = part;
    for (let start = 0; start < keys.length; start += size) {
      const end = Math.min(keys.length, start + size);
      for (let i = start; i < end; i++) {
        const text = JSON.stringify(values[i]) as string | undefined;
        if (text === undefined) continue;
        out += `${sep}${JSON.stringify(keys[i])}:${text}`;
        sep = ',';
      }
      yield out;
      out = '';
    }
  }
  if (out) yield out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

function expect(text: string, i: number, code: number): void {
  if (text.charCodeAt(i) !== code)
    throw new SyntaxError(
      i >= text.length
        ? 'Unexpected end of JSON input'
        : `Expected '${String.fromCharCode(code)}' at position ${i}`,
    );
}

/** Index just after the string opening at i. */
function stringEnd(text: string, i: number): number {
  expect(text, i, QUOTE);
  for (let from = i + 1; ;) {
    const q = text.indexOf('"', from);
    if (q < 0) throw new SyntaxError('Unterminated string in JSON');
    let k = q - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/**
 * Index just after the value starting at i. Only finds its end (strings skipped, brackets
 * counted); the caller's JSON.parse of the value's text is what validates it.
 */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(text, j) - 1;
      else if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if ((d === CLOSE_OBJECT || d === CLOSE_ARRAY) && --depth === 0) return j + 1;
    }
    throw new SyntaxError('Unexpected end of JSON input');
  }
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isSpace(d)) break;
    j++;
  }
  if (j === i) throw new SyntaxError(`Unexpected token at position ${i}`);
  return j;
}

/** A key and its colon, from i; returns the key and where its value starts. */
function readKey(text: string, i: number): [string, number] {
  const end = stringEnd(text, i);
  const key = JSON.parse(text.slice(i, end)) as string;
  const colon = skipSpace(text, end);
  expect(text, colon, COLON);
  return [key, skipSpace(text, colon + 1)];
}

/**
 * JSON.parse of an object's text, except that the members named in `maps` (objects: the
 * domains) come back as Maps, parsed an entry at a time with `pause` awaited every
 * `entriesPerSlice` entries. Rejects what JSON.parse rejects (a half-written file): every
 * key and value goes through JSON.parse, and the text around them is checked here.
 */
export async function parseJsonSlices(
  text: string,
  maps: ReadonlySet<string>,
  pause: () => Promise<void>,
  entriesPerSlice = 500,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let i = skipSpace(text, 0);
  expect(text, i, OPEN_OBJECT);
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== CLOSE_OBJECT) {
    for (;;) {
      const [key, start] = readKey(text, i);
      let value: unknown;
      if (maps.has(key) && text.charCodeAt(start) === OPEN_OBJECT) {
        [value, i] = await parseMap(text, start, pause, Math.max(1, entriesPerSlice));
      } else {
        i = valueEnd(text, start);
        value = JSON.parse(text.slice(start, i));
      }
      // defineProperty, as JSON.parse does: a "__proto__" key stays an ordinary member.
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      i = skipSpace(text, i);
      if (text.charCodeAt(i) !== COMMA) break;
      i = skipSpace(text, i + 1);
    }
  }
  expect(text, i, CLOSE_OBJECT);
  if (skipSpace(text, i + 1) !== text.length)
    throw new SyntaxError(`Unexpected non-whitespace character after JSON at position ${i + 1}`);
  return out;
}

async function parseMap(
  text: string,
  open: number,
  pause: () => Promise<void>,
  entriesPerSlice: number,
): Promise<[Map<string, unknown>, number]> {
  const map = new Map<string, unknown>();
  let i = skipSpace(text, open + 1);
  if (text.charCodeAt(i) !== CLOSE_OBJECT) {
    for (let n = 1; ; n++) {
      const [key, start] = readKey(text, i);
      i = valueEnd(text, start);
      map.set(key, JSON.parse(text.slice(start, i)));
      if (n % entriesPerSlice === 0) await pause();
      i = skipSpace(text, i);
      if (text.charCodeAt(i) !== COMMA) break;
      i = skipSpace(text, i + 1);
    }
  }
  expect(text, i, CLOSE_OBJECT);
  return [map, i + 1];
}
