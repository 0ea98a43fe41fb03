// A MaxMind DB (format 2.0, https://maxmind.github.io/MaxMind-DB/) writer: networks and
// their records go in, one .mmdb file image comes out, readable by libmaxminddb
// (`mmdblookup`) and the `maxmind` package. What the records hold is the caller's choice.
//
// Layout: binary search tree, 16 zero bytes, data section, "\xAB\xCD\xEFMaxMind.com",
// metadata map. IPv4 networks live at ::a.b.c.d/(96+n) in an IPv6 tree; a database with
// only IPv4 networks gets an IPv4 tree (ip_version 4) unless IPv6 is asked for.
import { ValidationError } from '../../lib/errors.js';
import { parseNetwork, type Network } from './csv-ranges.js';

/** A value of the MMDB data section. Plain numbers: non-negative integers below 2^32 are
 * uint32, negative integers from -2^31 are int32, anything else is a double; use the
 * `mmdb.*` wrappers to pick another type (e.g. `mmdb.double(50)` for a whole latitude). */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | MmdbTyped
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

type TypedKind = 'double' | 'float' | 'uint16' | 'uint32' | 'int32' | 'uint64' | 'uint128';

export class MmdbTyped {
  constructor(
    readonly kind: TypedKind,
    readonly value: number | bigint,
  ) {}
}

export const mmdb = {
  double: (n: number) => new MmdbTyped('double', n),
  float: (n: number) => new MmdbTyped('float', n),
  uint16: (n: number) => new MmdbTyped('uint16', n),
  uint32: (n: number) => new MmdbTyped('uint32', n),
  int32: (n: number) => new MmdbTyped('int32', n),
  uint64: (n: number | bigint) => new MmdbTyped('uint64', BigInt(n)),
  uint128: (n: number | bigint) => new MmdbTyped('uint128', BigInt(n)),
};

export interface MmdbWriterOptions {
  /** `database_type` in the metadata, e.g. `GeoLite2-Country` or `Cirrus-Geo`. */
  databaseType: string;
  /** Language code → description. Default none. */
  description?: Readonly<Record<string, string>>;
  /** Locale codes the records carry names in. Default none. */
  languages?: readonly string[];
  /** 'auto' (default): IPv6 tree if any IPv6 network was inserted, else IPv4. */
  ipVersion?: 4 | 6 | 'auto';
  /** Bits per search tree record; default the smallest of 24/28/32 that addresses the file. */
  recordSize?: 24 | 28 | 32;
  /** Unix seconds; default now. */
  buildEpoch?: number;
}

export interface MmdbBuild {
  readonly buffer: Buffer;
  readonly ipVersion: 4 | 6;
  readonly recordSize: 24 | 28 | 32;
  readonly nodeCount: number;
  /** Distinct records in the data section. */
  readonly records: number;
  readonly dataSize: number;
  /** insert()/merge() calls so far. */
  readonly networks: number;
}

const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const SEPARATOR = 16;
const MAX_SIZE = 65821 + 0xffffff; // the largest size a control byte can express

/** Type numbers of the data section (spec: "Output Data Section"). */
const T = {
  pointer: 1,
  string: 2,
  double: 3,
  bytes: 4,
  uint16: 5,
  uint32: 6,
  map: 7,
  int32: 8,
  uint64: 9,
  uint128: 10,
  array: 11,
  boolean: 14,
  float: 15,
} as const;

/** A growable byte buffer. */
class Bytes {
  buf = Buffer.allocUnsafe(256);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** An unsigned integer big-endian in exactly `n` bytes. */
  uint(value: bigint, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.byte(Number((value >> BigInt(i * 8)) & 0xffn));
  }

  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** Control byte(s) of a field: type, then the size in the 5-bit field and 0–3 more bytes. */
function header(out: Bytes, type: number, size: number): void {
  if (size > MAX_SIZE) throw new ValidationError(`MMDB value too large (${size} > ${MAX_SIZE})`);
  const extended = type > 7;
  const first = (extended ? 0 : type) << 5;
  const sizeBits = size < 29 ? size : size < 285 ? 29 : size < 65821 ? 30 : 31;
  out.byte(first | sizeBits);
  if (extended) out.byte(type - 7);
  if (sizeBits === 29) out.byte(size - 29);
  else if (sizeBits === 30) out.uint(BigInt(size - 285), 2);
  else if (sizeBits === 31) out.uint(BigInt(size - 65821), 3);
}

/** Bytes needed for an unsigned integer with no leading zero bytes (0 needs none). */
function byteLength(value: bigint): number {
  let n = 0;
  for (let v = value; v > 0n; v >>= 8n) n++;
  return n;
}

function uintField(out: Bytes, type: number, value: bigint, maxBytes: number, kind: string) {
  if (value < 0n || byteLength(value) > maxBytes)
    throw new ValidationError(`${value} does not fit an MMDB ${kind}`);
  const n = byteLength(value);
  header(out, type, n);
  out.uint(value, n);
}

function typed(out: Bytes, v: MmdbTyped): void {
  const n = v.value;
  switch (v.kind) {
    case 'double': {
      header(out, T.double, 8);
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(Number(n));
      out.bytes(b);
      return;
    }
    case 'float': {
      header(out, T.float, 4);
      const b = Buffer.allocUnsafe(4);
      b.writeFloatBE(Number(n));
      out.bytes(b);
      return;
    }
    case 'int32': {
      const i = Number(n);
      if (!Number.isInteger(i) || i < -0x80000000 || i > 0x7fffffff)
        throw new ValidationError(`${i} does not fit an MMDB int32`);
      // Readers left-pad short int32 fields with zero bytes, so a negative one takes all four.
      const len = i < 0 ? 4 : byteLength(BigInt(i));
      header(out, T.int32, len);
      out.uint(BigInt(i >>> 0), len);
      return;
    }
    case 'uint16':
    case 'uint32':
      if (typeof n === 'number' && !Number.isInteger(n))
        throw new ValidationError(`${n} is not an integer`);
      return uintField(out, T[v.kind], BigInt(n), v.kind === 'uint16' ? 2 : 4, v.kind);
    case 'uint64':
      return uintField(out, T.uint64, BigInt(n), 8, 'uint64');
    case 'uint128':
      return uintField(out, T.uint128, BigInt(n), 16, 'uint128');
  }
}

/** Whether a value of this shape is worth sharing through a pointer. */
const shareable = (v: MmdbValue) =>
  typeof v === 'string' || typeof v === 'object' || typeof v === 'bigint';

function isMap(v: MmdbValue): v is { readonly [key: string]: MmdbValue } {
  return (
    typeof v === 'object' &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof MmdbTyped)
  );
}

/**
 * Encodes `v` into `out`. With `shared` (canonical bytes → data-section offset), a value
 * met before is written as a pointer when that is shorter. Pointers only ever point at a
 * full encoding, never at another pointer (libmaxminddb rejects pointer chains), and a
 * `top` value (what a tree record points at) is always written in full.
 */
function encode(out: Bytes, v: MmdbValue, shared?: Map<string, number>, top = false): void {
  if (shared && shareable(v)) {
    const key = canonicalKey(v);
    const at = shared.get(key);
    if (at !== undefined && !top && pointerLength(at) < key.length) return pointer(out, at);
    if (at === undefined && key.length > 2) shared.set(key, out.length);
  }
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    header(out, T.string, b.length);
    out.bytes(b);
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
      uintField(out, T.uint32, BigInt(v), 4, 'uint32');
    else if (Number.isInteger(v) && v < 0 && v >= -0x80000000) typed(out, mmdb.int32(v));
    else typed(out, mmdb.double(v));
  } else if (typeof v === 'bigint') {
    if (v < 1n << 64n) uintField(out, T.uint64, v, 8, 'uint64');
    else uintField(out, T.uint128, v, 16, 'uint128');
  } else if (typeof v === 'boolean') {
    header(out, T.boolean, v ? 1 : 0);
  } else if (v instanceof MmdbTyped) {
    typed(out, v);
  } else if (v instanceof Uint8Array) {
    header(out, T.bytes, v.length);
    out.bytes(v);
  } else if (Array.isArray(v)) {
    const items = v as readonly MmdbValue[];
    header(out, T.array, items.length);
    for (const item of items) encode(out, item, shared);
  } else if (isMap(v)) {
    // Keys in a fixed order, so equal records encode (and deduplicate) equally.
    const keys = Object.keys(v).sort();
    header(out, T.map, keys.length);
    for (const k of keys) {
      encode(out, k, shared);
      encode(out, v[k] as MmdbValue, shared);
    }
  } else {
    throw new ValidationError(`cannot store ${String(v)} in an MMDB`);
  }
}

const canonicalCache = new WeakMap<object, string>();

/** The value's own encoding (no pointers) as a string key. */
function canonicalKey(v: MmdbValue): string {
  if (typeof v === 'object') {
    const hit = canonicalCache.get(v);
    if (hit !== undefined) return hit;
  }
  const out = new Bytes();
  encode(out, v);
  const key = out.view().toString('latin1');
  if (typeof v === 'object') canonicalCache.set(v, key);
  return key;
}

/** Size of a pointer to a data-section offset (spec: 11, 19, 27 or 32 value bits). */
function pointerLength(offset: number): number {
  return offset < 2048 ? 2 : offset < 526336 ? 3 : offset < 134744064 ? 4 : 5;
}

function pointer(out: Bytes, offset: number): void {
  const base = T.pointer << 5;
  if (offset < 2048) {
    out.byte(base | (offset >> 8));
    out.byte(offset & 0xff);
  } else if (offset < 526336) {
    const v = offset - 2048;
    out.byte(base | (1 << 3) | (v >> 16));
    out.uint(BigInt(v & 0xffff), 2);
  } else if (offset < 134744064) {
    const v = offset - 526336;
    out.byte(base | (2 << 3) | (v >>> 24));
    out.uint(BigInt(v & 0xffffff), 3);
  } else {
    out.byte(base | (3 << 3));
    out.uint(BigInt(offset), 4);
  }
}

/** The smallest record size whose records can hold `maxValue`. */
export function recordSizeFor(maxValue: number): 24 | 28 | 32 {
  if (maxValue < 2 ** 24) return 24;
  if (maxValue < 2 ** 28) return 28;
  if (maxValue < 2 ** 32) return 32;
  throw new ValidationError(`database too large for 32-bit records (${maxValue})`);
}

/**
 * Builds one database in memory. Records are deduplicated: equal values (by encoding)
 * are stored once, and repeated strings and maps inside them are shared by pointers.
 * Inserting a network gives every address in it that record, replacing whatever earlier
 * inserts gave them (a later insert wins within its range, whatever the prefix lengths);
 * addresses no insert covered have no record.
 */
export class MmdbWriter {
  private readonly options: MmdbWriterOptions;
  // The search trie over 128-bit space. A child slot holds 0 (no data), a node index
  // (> 0; node 0 is the root and is never a child) or -(record id + 1).
  private left = new Int32Array(1024);
  private right = new Int32Array(1024);
  private nodes = 1;
  private readonly recordIds = new Map<string, number>();
  private readonly records: MmdbValue[] = [];
  private readonly mergedIds = new Map<string, number>();
  private hasIpv6 = false;
  private inserted = 0;

  constructor(options: MmdbWriterOptions) {
    this.options = options;
  }

  /** Gives every address of `network` the record `value`. */
  insert(network: Network | string, value: MmdbValue): void {
    const n = typeof network === 'string' ? parseNetwork(network) : network;
    const id = this.recordId(value);
    this.walk(n, (node, bit) => this.setSlot(node, bit, -(id + 1)));
  }

  /**
   * Merges the map `value` into the records already within `network`, key by key (its
   * keys win); addresses with no record get `value` itself.
   */
  merge(network: Network | string, value: { readonly [key: string]: MmdbValue }): void {
    const n = typeof network === 'string' ? parseNetwork(network) : network;
    const id = this.recordId(value);
    this.walk(n, (node, bit) => this.mergeSlot(node, bit, id));
  }

  private recordId(value: MmdbValue): number {
    const key = canonicalKey(value);
    let id = this.recordIds.get(key);
    if (id === undefined) {
      id = this.records.length;
      this.records.push(value);
      this.recordIds.set(key, id);
    }
    return id;
  }

  /** Walks to the slot of `n` (splitting leaves on the way) and calls `at` on it. */
  private walk(n: Network, at: (node: number, bit: 0 | 1) => void): void {
    if (n.family === 6) {
      if (this.options.ipVersion === 4)
        throw new ValidationError(`IPv6 network in an IPv4 database`);
      this.hasIpv6 = true;
    }
    this.inserted++;
    // An IPv4 address is ::a.b.c.d: its value is already the low 32 of 128 bits.
    const prefix = n.family === 4 ? n.prefix + 96 : n.prefix;
    const words = [96n, 64n, 32n, 0n].map((s) => Number((n.address >> s) & 0xffffffffn));
    const bitAt = (d: number) => ((words[d >> 5]! >>> (31 - (d & 31))) & 1) as 0 | 1;
    if (prefix === 0) {
      at(0, 0);
      at(0, 1);
      return;
    }
    let node = 0;
    for (let d = 0; d < prefix - 1; d++) {
      const bit = bitAt(d);
      let child = bit ? this.right[node]! : this.left[node]!;
      if (child <= 0) {
        // A leaf (record or no data) on the way: push it down one level.
        const split = this.newNode(child, child);
        this.setSlot(node, bit, split);
        child = split;
      }
      node = child;
    }
    at(node, bitAt(prefix - 1));
  }

  private newNode(l: number, r: number): number {
    if (this.nodes === this.left.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.left = grow(this.left);
      this.right = grow(this.right);
    }
    const n = this.nodes++;
    this.left[n] = l;
    this.right[n] = r;
    return n;
  }

  private setSlot(node: number, bit: 0 | 1, value: number): void {
    if (bit) this.right[node] = value;
    else this.left[node] = value;
  }

  private mergeSlot(node: number, bit: 0 | 1, id: number): void {
    const slot = bit ? this.right[node]! : this.left[node]!;
    if (slot > 0) {
      this.mergeSlot(slot, 0, id);
      this.mergeSlot(slot, 1, id);
      return;
    }
    this.setSlot(node, bit, -((slot === 0 ? id : this.mergedId(-slot - 1, id)) + 1));
  }

  private mergedId(oldId: number, newId: number): number {
    const key = `${oldId}:${newId}`;
    let id = this.mergedIds.get(key);
    if (id === undefined) {
      const before = this.records[oldId] as MmdbValue;
      const added = this.records[newId] as MmdbValue;
      if (!isMap(before) || !isMap(added))
        throw new ValidationError('merge() needs map records on both sides');
      id = this.recordId({ ...before, ...added });
      this.mergedIds.set(key, id);
    }
    return id;
  }

  /** Replaces subtrees whose every address has the same record (or none) by that leaf. */
  private collapse(node: number): number {
    const l = this.left[node]!;
    const r = this.right[node]!;
    const cl = l > 0 ? this.collapse(l) : l;
    const cr = r > 0 ? this.collapse(r) : r;
    this.left[node] = cl;
    this.right[node] = cr;
    return cl <= 0 && cl === cr ? cl : node;
  }

  build(): MmdbBuild {
    const ipVersion: 4 | 6 =
      this.options.ipVersion === 4 || this.options.ipVersion === 6
        ? this.options.ipVersion
        : this.hasIpv6
          ? 6
          : 4;
    // The root of the tree to write: the trie root, or for IPv4 the node at ::/96.
    let root = 0;
    if (ipVersion === 4) {
      for (let d = 0; d < 96; d++) {
        const child = this.left[root]!;
        if (child <= 0) {
          root = this.newNode(child, child);
          break;
        }
        root = child;
      }
    }
    for (const bit of [0, 1] as const) {
      const c = bit ? this.right[root]! : this.left[root]!;
      if (c > 0) this.setSlot(root, bit, this.collapse(c));
    }

    // Number the nodes breadth-first from the root, and write each record once, in the
    // order the tree first reaches it.
    const number = new Int32Array(this.nodes).fill(-1);
    const order: number[] = [root];
    number[root] = 0;
    const data = new Bytes();
    const shared = new Map<string, number>();
    const offsets = new Map<number, number>();
    for (let i = 0; i < order.length; i++) {
      const n = order[i]!;
      for (const c of [this.left[n]!, this.right[n]!]) {
        if (c > 0 && number[c] === -1) {
          number[c] = order.length;
          order.push(c);
        } else if (c < 0 && !offsets.has(-c - 1)) {
          offsets.set(-c - 1, data.length);
          encode(data, this.records[-c - 1] as MmdbValue, shared, true);
        }
      }
    }
    const nodeCount = order.length;
    const recordSize =
      this.options.recordSize ?? recordSizeFor(nodeCount + SEPARATOR + data.length);
    if (nodeCount + SEPARATOR + data.length >= 2 ** recordSize)
      throw new ValidationError(`${recordSize}-bit records cannot address this database`);
    const value = (c: number) =>
      c > 0 ? number[c]! : c === 0 ? nodeCount : nodeCount + SEPARATOR + offsets.get(-c - 1)!;

    const nodeBytes = recordSize / 4;
    const tree = Buffer.alloc(nodeCount * nodeBytes);
    for (let i = 0; i < nodeCount; i++) {
      const n = order[i]!;
      writeNode(tree, i * nodeBytes, recordSize, value(this.left[n]!), value(this.right[n]!));
    }

    const meta = new Bytes();
    encode(meta, {
      binary_format_major_version: mmdb.uint16(2),
      binary_format_minor_version: mmdb.uint16(0),
      build_epoch: mmdb.uint64(this.options.buildEpoch ?? Math.floor(Date.now() / 1000)),
      database_type: this.options.databaseType,
      description: { ...(this.options.description ?? {}) },
      ip_version: mmdb.uint16(ipVersion),
      languages: [...(this.options.languages ?? [])],
      node_count: mmdb.uint32(nodeCount),
      record_size: mmdb.uint16(recordSize),
    });
    const buffer = Buffer.concat([
      tree,
      Buffer.alloc(SEPARATOR),
      data.view(),
      METADATA_MARKER,
      meta.view(),
    ]);
    return {
      buffer,
      ipVersion,
      recordSize,
      nodeCount,
      records: offsets.size,
      dataSize: data.length,
      networks: this.inserted,
    };
  }
}

/** One search tree node: two records of `size` bits (spec: "Node Layout"). */
function writeNode(buf: Buffer, at: number, size: 24 | 28 | 32, l: number, r: number): void {
  if (size === 24) {
    buf.writeUIntBE(l, at, 3);
    buf.writeUIntBE(r, at + 3, 3);
  } else if (size === 28) {
    // The middle byte holds the top nibble of each record, the left one's first.
    buf.writeUIntBE(l & 0xffffff, at, 3);
    buf[at + 3] = ((l >>> 24) << 4) | (r >>> 24);
    buf.writeUIntBE(r & 0xffffff, at + 4, 3);
  } else {
    buf.writeUInt32BE(l, at);
    buf.writeUInt32BE(r, at + 4);
  }
}
