// The last-known-good file: the recipe of the live snapshot (store state, serial, content
// hash) kept on local disk, so an instance whose store is unreachable or emptied starts
// serving what it served before. Written aside and renamed (atomic), with a sha256 of the
// body in its header; a file that fails any check is renamed `.corrupt-<time>`, never used.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { decodeRecipe, encodeRecipe } from './recipe-codec.js';
import type { BuildRecipe } from './from-store.js';

const MAGIC = 'cirrus-last-known-good';
const FORMAT = 1;

/** The first line of the file (JSON); the body follows: head then each domain chunk. */
interface Header {
  magic: typeof MAGIC;
  format: typeof FORMAT;
  zone: string;
  serial: number;
  contentHash: string;
  writtenAt: string;
  /** Byte lengths: the recipe head, then each domain chunk (worker-protocol.ts). */
  parts: number[];
  sha256: string;
}

export interface LastKnownGood {
  recipe: BuildRecipe;
  writtenAt: string;
}

export type LkgRead =
  | { found: true; lkg: LastKnownGood }
  | { found: false; corrupt?: { reason: string; setAside: string } };

/** Writes `recipe` for `zone` to `file` atomically (temp file, fsync, rename). */
export async function writeLastKnownGood(
  file: string,
  zone: string,
  recipe: BuildRecipe,
): Promise<void> {
  const encoded = await encodeRecipe(recipe);
  const parts = [encoded.head, ...encoded.domains];
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  const header: Header = {
    magic: MAGIC,
    format: FORMAT,
    zone,
    serial: recipe.serial,
    contentHash: recipe.contentHash,
    writtenAt: new Date().toISOString(),
    parts: parts.map((p) => p.length),
    sha256: hash.digest('hex'),
  };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.write(`${JSON.stringify(header)}\n`);
    for (const p of parts) await fh.write(p);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Reads and checks `file` for `zone`. Missing: not found. Unreadable, of another format or
 * zone, or failing its checksum: renamed aside and reported as corrupt.
 */
export async function readLastKnownGood(file: string, zone: string): Promise<LkgRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { found: false };
    throw err;
  }
  try {
    return { found: true, lkg: await parse(bytes, zone) };
  } catch (err) {
    const setAside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(file, setAside);
    return { found: false, corrupt: { reason: errorMessage(err), setAside } };
  }
}

async function parse(bytes: Buffer, zone: string): Promise<LastKnownGood> {
  const nl = bytes.indexOf(0x0a);
  if (nl < 0) throw new Error('no header line');
  const header = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as Partial<Header>;
  if (header.magic !== MAGIC || header.format !== FORMAT)
    throw new Error(`not a format ${FORMAT} last-known-good file`);
  if (header.zone !== zone) throw new Error(`it holds zone ${header.zone}, not ${zone}`);
  const lengths = header.parts ?? [];
  const body = bytes.subarray(nl + 1);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (lengths.length === 0 || total !== body.length)
    throw new Error(`body is ${body.length} bytes, the header says ${total}`);
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== header.sha256) throw new Error('sha256 of the body does not match its header');
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of lengths) {
    parts.push(body.subarray(at, at + n));
    at += n;
  }
  const [head, ...domains] = parts as [Buffer, ...Buffer[]];
  const recipe = await decodeRecipe({ head, domains });
  if (recipe.serial !== header.serial || recipe.contentHash !== header.contentHash)
    throw new Error('the recipe does not match its header');
  return { recipe, writtenAt: header.writtenAt ?? '' };
}

/**
 * Writes each published recipe after `delayMs`, off the query path: a burst of publishes
 * writes the last one once, and one write runs at a time.
 */
export class LastKnownGoodWriter {
  private pending: BuildRecipe | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private written: number | undefined;

  constructor(
    readonly file: string,
    private readonly zone: string,
    private readonly logger: Logger,
    private readonly delayMs = 1000,
  ) {}

  /** The serial on disk (read at start): a recipe with it is not written again. */
  markWritten(serial: number): void {
    this.written = serial;
  }

  schedule(recipe: BuildRecipe): void {
    if (recipe.serial === this.written && !this.pending) return;
    this.pending = recipe;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.delayMs);
    this.timer.unref();
  }

  /** Writes what is pending now; resolves when no write is running. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    const recipe = this.pending;
    if (!recipe) return;
    this.pending = undefined;
    this.writing = writeLastKnownGood(this.file, this.zone, recipe).then(
      () => {
        this.written = recipe.serial;
        this.logger.debug({ file: this.file, serial: recipe.serial }, 'last-known-good written');
      },
      (err: unknown) => this.logger.error({ err, file: this.file }, 'last-known-good not written'),
    );
    await this.writing;
    this.writing = undefined;
  }

  async stop(): Promise<void> {
    await this.flush();
  }
}
