// JSON text of a state object written a slice at a time: byte for byte what JSON.stringify
// gives for the same object with its Map members as plain objects and the Sets in its
// plain members as arrays, but a Map member (the embedded store's domains, 100,000 at
// scale) and such a Set (the set of their names) are serialised a few thousand entries per
// slice, so the writer can hand the event loop back between slices. Read back the same
// way: a chunk of the file and an entry of a Map member at a time.
import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Everything is captured at the call: plain members are stringified at once (they may be
 * changed in place later, as nodes' health is), Map members' entries are copied into an
 * array (their values must be replaced, never changed in place, for the slices written
 * later to show the state of the call). A Set that is a value of a plain member is taken
 * as it is, uncopied: the caller must never change it again (the keyspace copies a set it
 * handed out before writing to it). The slices joined are one JSON text.
 */
export function jsonSlices(state: object, entriesPerSlice = 2000): Iterable<string> {
  return slicesOf(partsOf(state), Math.max(1, entriesPerSlice), new TextSink());
}

/**
 * jsonSlices as UTF-8 bytes, written straight into one reused buffer: each slice is a view
 * of it, valid until the next is asked for. No slice's text is ever one string: at 100,000
 * domains building slices as strings and encoding them made ~70 MB of garbage per write.
 */
export function jsonSliceBytes(state: object, entriesPerSlice = 2000): Iterable<Buffer> {
  return slicesOf(partsOf(state), Math.max(1, entriesPerSlice), new ByteSink());
}

function partsOf(state: object): Array<string | MapCopy | SetPart> {
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
  return parts;
}

/** Where slicesOf writes text; `take` ends a slice. */
interface Sink<T> {
  put(text: string): void;
  readonly empty: boolean;
  take(): T;
}

class TextSink implements Sink<string> {
  private out = '';
  put(text: string): void {
    this.out += text;
  }
  get empty(): boolean {
    return this.out === '';
  }
  take(): string {
    const out = this.out;
    this.out = '';
    return out;
  }
}

class ByteSink implements Sink<Buffer> {
  private buf = Buffer.allocUnsafe(1 << 16);
  private n = 0;
  put(text: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 octets.
    if (this.n + text.length * 3 > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + text.length * 3));
      this.buf.copy(grown, 0, 0, this.n);
      this.buf = grown;
    }
    this.n += this.buf.write(text, this.n);
  }
  get empty(): boolean {
    return this.n === 0;
  }
  take(): Buffer {
    const out = this.buf.subarray(0, this.n);
    this.n = 0;
    return out;
  }
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

function* slicesOf<T>(parts: Array<string | MapCopy | SetPart>, size: number, out: Sink<T>) {
  for (const part of parts) {
    if (typeof part === 'string') {
      out.put(part);
      continue;
    }
    if ('members' in part) {
      // JSON.stringify writes null for an array element it cannot represent; so do we.
      let n = 0;
      for (const m of part.members) {
        if (n !== 0) out.put(',');
        out.put((JSON.stringify(m) as string | undefined) ?? 'null');
        if (++n % size === 0) yield out.take();
      }
      continue;
    }
    let sep = false;
    const { keys, values } = part;
    for (let start = 0; start < keys.length; start += size) {
      const end = Math.min(keys.length, start + size);
      for (let i = start; i < end; i++) {
        const text = JSON.stringify(values[i]) as string | undefined;
        if (text === undefined) continue;
        if (sep) out.put(',');
        out.put(JSON.stringify(keys[i]));
        out.put(':');
        out.put(text);
        sep = true;
      }
      yield out.take();
    }
  }
  if (!out.empty) yield out.take();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** What ByteWindow.at gives past the end of the input. */
const END = -1;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Reads up to `into.length - at` bytes into `into` from `at`; 0 at the end of the input. */
type ReadInto = (into: Buffer, at: number) => number;

/**
 * The bytes of one JSON text, read a chunk at a time and addressed by their offset in the
 * text. Bytes before the last `release` may be dropped when the next chunk is read, so a
 * 30 MB file is read with a window of about one chunk plus the largest single value, and
 * never becomes one 30 MB string. Scanning bytes is safe for UTF-8: no byte of a multibyte
 * character is below 0x80, so quotes, brackets and backslashes are always themselves.
 */
class ByteWindow {
  private buf: Buffer;
  /** Offset in the text of buf[0], and just past the last byte read. */
  private start = 0;
  private end = 0;
  private kept = 0;
  private done = false;

  constructor(
    private readonly readInto: ReadInto,
    private readonly chunk: number,
  ) {
    this.buf = Buffer.allocUnsafe(2 * chunk);
  }

  /** Bytes before `offset` are no longer needed. */
  release(offset: number): void {
    this.kept = offset;
  }

  /** The byte at `offset`, or END past the end of the input. */
  at(offset: number): number {
    while (offset >= this.end) if (!this.more()) return END;
    return this.buf[offset - this.start] as number;
  }

  /** Offset of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    for (;;) {
      const i = from < this.end ? this.buf.indexOf(byte, from - this.start) : -1;
      if (i >= 0 && i < this.end - this.start) return i + this.start;
      from = Math.max(from, this.end);
      if (!this.more()) return -1;
    }
  }

  /** The text of [from, to), both already read. */
  text(from: number, to: number): string {
    return this.buf.toString('utf8', from - this.start, to - this.start);
  }

  /** Reads the next chunk, dropping released bytes first; false at the end of the input. */
  private more(): boolean {
    if (this.done) return false;
    const keepFrom = Math.max(this.start, Math.min(this.kept, this.end));
    const live = this.end - keepFrom;
    if (keepFrom > this.start) {
      this.buf.copy(this.buf, 0, keepFrom - this.start, this.end - this.start);
      this.start = keepFrom;
    }
    if (this.buf.length - live < this.chunk) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, live + this.chunk));
      this.buf.copy(grown, 0, 0, live);
      this.buf = grown;
    }
    const n = this.readInto(this.buf, live);
    if (n === 0) this.done = true;
    this.end += n;
    return n > 0;
  }
}

function skipSpace(w: ByteWindow, i: number): number {
  while (isSpace(w.at(i))) i++;
  return i;
}

function expect(w: ByteWindow, i: number, code: number): void {
  const c = w.at(i);
  if (c !== code)
    throw new SyntaxError(
      c === END
        ? 'Unexpected end of JSON input'
        : `Expected '${String.fromCharCode(code)}' at position ${i}`,
    );
}

/** Offset just after the string opening at i. */
function stringEnd(w: ByteWindow, i: number): number {
  expect(w, i, QUOTE);
  for (let from = i + 1; ;) {
    const q = w.indexOf(QUOTE, from);
    if (q < 0) throw new SyntaxError('Unterminated string in JSON');
    let k = q - 1;
    while (w.at(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/**
 * Offset just after the value starting at i. Only finds its end (strings skipped, brackets
 * counted); the caller's JSON.parse of the value's text is what validates it.
 */
function valueEnd(w: ByteWindow, i: number): number {
  const c = w.at(i);
  if (c === QUOTE) return stringEnd(w, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let j = i; ; j++) {
      const d = w.at(j);
      if (d === END) break;
      if (d === QUOTE) j = stringEnd(w, j) - 1;
      else if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if ((d === CLOSE_OBJECT || d === CLOSE_ARRAY) && --depth === 0) return j + 1;
    }
    throw new SyntaxError('Unexpected end of JSON input');
  }
  let j = i;
  for (;;) {
    const d = w.at(j);
    if (d === END || d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isSpace(d)) break;
    j++;
  }
  if (j === i) throw new SyntaxError(`Unexpected token at position ${i}`);
  return j;
}

/** A key and its colon, from i; returns the key and where its value starts. */
function readKey(w: ByteWindow, i: number): [string, number] {
  const end = stringEnd(w, i);
  const key = JSON.parse(w.text(i, end)) as string;
  const colon = skipSpace(w, end);
  expect(w, colon, COLON);
  return [key, skipSpace(w, colon + 1)];
}

/**
 * JSON.parse of the object in the file at `path`, except that the members named in `maps`
 * (objects: the domains) come back as Maps, parsed an entry at a time with `pause` awaited
 * every `entriesPerSlice` entries. Rejects what JSON.parse rejects (a half-written file):
 * every key and value goes through JSON.parse, and the text around them is checked here.
 * Read a chunk at a time from one open descriptor (so a file renamed over meanwhile is
 * still read whole, as it was when opened); reads are synchronous, a chunk (1 MiB) each:
 * under a millisecond from the page cache.
 */
export async function readJsonFileSlices(
  path: string,
  maps: ReadonlySet<string>,
  pause: () => Promise<void>,
  entriesPerSlice = 500,
  chunkBytes = 1 << 20,
): Promise<Record<string, unknown>> {
  const fd = openSync(path, 'r');
  try {
    let position = 0;
    const window = new ByteWindow((into, at) => {
      const n = readSync(fd, into, at, Math.min(chunkBytes, into.length - at), position);
      position += n;
      return n;
    }, chunkBytes);
    return await parseWindow(window, maps, pause, entriesPerSlice);
  } finally {
    closeSync(fd);
  }
}

async function parseWindow(
  w: ByteWindow,
  maps: ReadonlySet<string>,
  pause: () => Promise<void>,
  entriesPerSlice: number,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  let i = skipSpace(w, 0);
  expect(w, i, OPEN_OBJECT);
  i = skipSpace(w, i + 1);
  if (w.at(i) !== CLOSE_OBJECT) {
    for (;;) {
      w.release(i);
      const [key, start] = readKey(w, i);
      let value: unknown;
      if (maps.has(key) && w.at(start) === OPEN_OBJECT) {
        [value, i] = await parseMap(w, start, pause, Math.max(1, entriesPerSlice));
      } else {
        i = valueEnd(w, start);
        value = JSON.parse(w.text(start, i));
      }
      // defineProperty, as JSON.parse does: a "__proto__" key stays an ordinary member.
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      i = skipSpace(w, i);
      if (w.at(i) !== COMMA) break;
      i = skipSpace(w, i + 1);
    }
  }
  expect(w, i, CLOSE_OBJECT);
  const after = skipSpace(w, i + 1);
  if (w.at(after) !== END)
    throw new SyntaxError(`Unexpected non-whitespace character after JSON at position ${i + 1}`);
  return out;
}

async function parseMap(
  w: ByteWindow,
  open: number,
  pause: () => Promise<void>,
  entriesPerSlice: number,
): Promise<[Map<string, unknown>, number]> {
  const map = new Map<string, unknown>();
  let i = skipSpace(w, open + 1);
  if (w.at(i) !== CLOSE_OBJECT) {
    for (let n = 1; ; n++) {
      w.release(i);
      const [key, start] = readKey(w, i);
      i = valueEnd(w, start);
      map.set(key, JSON.parse(w.text(start, i)));
      if (n % entriesPerSlice === 0) await pause();
      i = skipSpace(w, i);
      if (w.at(i) !== COMMA) break;
      i = skipSpace(w, i + 1);
    }
  }
  expect(w, i, CLOSE_OBJECT);
  return [map, i + 1];
}
