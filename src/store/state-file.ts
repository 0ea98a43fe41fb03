// The embedded engine's persistence: one JSON file written atomically (temp file + rename)
// shortly after each change, in slices that hand the event loop back. The file is also how
// another process (`cirrus token create`) reaches a running server: a changed file is read
// back, the changes not yet written replayed over it, and announced, exactly as a Redis
// publish would be. What the state is and how it maps to JSON is the host's business.
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { link, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CirrusError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { jsonSliceBytes, readJsonFileSlices } from './json-slices.js';
import { nextTurn } from '../lib/cooperative.js';

export interface StateFileOptions {
  file: string;
  /** How often to look for writes by other processes. */
  watchIntervalMs?: number | undefined;
  /**
   * How long after a change the file is written (default 100 ms); changes in that time
   * share one write. A crash loses at most this window plus one write's duration.
   */
  writeDelayMs?: number | undefined;
  /**
   * How long a file another process left unreadable is waited for (default 5 s) before it
   * is set aside as `<file>.unreadable-<ms>` and our state written in its place.
   */
  unreadableGraceMs?: number | undefined;
  logger?: Logger | undefined;
}

/** What the file machinery needs from the state it persists. */
export interface StateFileHost<S> {
  /** Top-level members of the file parsed a slice at a time (they arrive as Maps). */
  readonly slicedMembers: ReadonlySet<string>;
  /** The state a parsed file holds. Throws when the file is not a state file. */
  fromFile(parsed: Record<string, unknown>): S | Promise<S>;
  /** The live state, replaced by `install` when a foreign write is adopted. */
  install(state: S): void;
  /**
   * The live state in the file's form. Map members are serialised later, a slice at a time:
   * their values must be replaced, never changed in place. Everything else is captured now.
   */
  toFile(): object;
  /** A foreign write was adopted. */
  adopted(): void;
}

interface FileStat {
  mtimeMs: number;
  size: number;
}
const sameStat = (a: FileStat | undefined, b: FileStat | undefined): boolean =>
  a !== undefined && b !== undefined && a.mtimeMs === b.mtimeMs && a.size === b.size;

/** Tells apart the temp files of several stores on one file in one process. */
let instances = 0;

export class StateFile<S> {
  /** The file as we last read or wrote it: any other stat means another process wrote it. */
  private lastSeen: FileStat | undefined;
  /**
   * A plain timer rather than fs.watchFile: watchFile misses a write that lands before its
   * first stat, and unwatchFile drops every watcher on the path in this process, not just ours.
   * pollFile already compares mtime and size itself.
   */
  private poller: NodeJS.Timeout | undefined;
  /**
   * Every change applied in memory since the last write that reached the file, in order.
   * A foreign write is adopted by reading the file and replaying these over it, so neither
   * side is lost; a write that reaches the file drops the ones it covered.
   */
  private pending: ((state: S) => void)[] = [];
  private writeTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Bumped each time a foreign file is adopted: a write begun before it must not land. */
  private adoptions = 0;
  /** The unreadable foreign file we last tried, so it is not parsed again until it changes. */
  private unreadable: { seen: FileStat; since: number; error: string } | undefined;
  /** flush() is writing: the timer stays off so two writes never share the temp file. */
  private flushing = false;
  private readonly tmp: string;
  private adopting: Promise<void> | undefined;
  /** How long the last completed write took, from its first slice to the rename (ms). */
  private lastWriteMs = 0;

  constructor(
    private readonly opts: StateFileOptions,
    private readonly host: StateFileHost<S>,
  ) {
    this.tmp = `${opts.file}.${process.pid}.${++instances}.tmp`;
  }

  /** Reads the file when there is one (before anything is served) and starts polling. */
  async start(): Promise<void> {
    mkdirSync(dirname(this.opts.file), { recursive: true });
    const seen = this.stat();
    if (seen) {
      this.host.install(await this.parseFile());
      this.lastSeen = seen;
    }
    this.poller = setInterval(() => void this.adoptForeign(), this.opts.watchIntervalMs ?? 500);
    this.poller.unref();
  }

  /** Writes every change still pending before returning (see flush). */
  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.poller = undefined;
    await this.adopting;
    await this.flush();
  }

  /**
   * Records a change already applied to the live state, to be written and, should a
   * foreign write be adopted first, replayed over it. `replay` may thus run more than once,
   * on different states: it holds its own copies of the caller's values.
   */
  changed(replay: (state: S) => void): void {
    this.pending.push(replay);
    this.scheduleWrite();
  }

  /**
   * Writes every pending change now and waits for it: the write in flight, then a last one
   * holding whatever came after it. Rejects, naming the file, when it cannot be written; the
   * changes stay pending and are retried.
   */
  async flush(): Promise<void> {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    this.flushing = true;
    try {
      await this.writing;
      // A foreign write landing at each attempt would make us adopt and retry for ever.
      for (let attempt = 1; this.pending.length > 0; attempt++) {
        if (attempt > 5)
          throw new CirrusError(
            'STORE',
            `state file ${this.opts.file}: another process kept rewriting it; ${this.pending.length} changes not written`,
          );
        try {
          await this.writeOnce(true);
        } catch (err) {
          throw new CirrusError(
            'STORE',
            `state file ${this.opts.file}: cannot write it: ${errorMessage(err)}; ${this.pending.length} changes not written`,
            { cause: err },
          );
        }
      }
    } finally {
      this.flushing = false;
      this.scheduleWrite(1000);
    }
  }

  private stat(): FileStat | undefined {
    // Runs at every poll and write: a missing file must not cost an exception.
    try {
      const s = statSync(this.opts.file, { throwIfNoEntry: false });
      return s && { mtimeMs: s.mtimeMs, size: s.size };
    } catch {
      return undefined;
    }
  }

  /**
   * start() only: the server is not answering yet, and a one-shot command needs the file as
   * it is. Read as adoptForeign reads (a chunk and an entry at a time): JSON.parse of the
   * whole text left the text (30 MB at 100,000 domains) and the parse's intermediates as
   * ~50 MB of garbage that no collection took until well after start.
   */
  private async parseFile(): Promise<S> {
    const file = this.opts.file;
    try {
      return await this.host.fromFile(
        asObject(await readJsonFileSlices(file, this.host.slicedMembers, nextTurn)),
      );
    } catch (err) {
      throw new CirrusError('STORE', `state file ${file} is unreadable: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Picks up a write made by another process since we last read or wrote the file: its
   * content, with our pending changes replayed over it, announced as a remote change. Read
   * and parsed a slice at a time (a 100,000-domain file took 600–1,000 ms of the event loop
   * in one JSON.parse). A file that cannot be parsed (another writer's half-written file, an
   * editor's mistake) changes nothing: we keep serving what we have and try again when it
   * changes. One adoption at a time; callers share it.
   */
  adoptForeign(): Promise<void> {
    this.adopting ??= this.readForeign().finally(() => (this.adopting = undefined));
    return this.adopting;
  }

  private async readForeign(): Promise<void> {
    const file = this.opts.file;
    const seen = this.stat();
    if (!seen || sameStat(seen, this.lastSeen) || sameStat(seen, this.unreadable?.seen)) return;
    let state: S;
    try {
      const parsed = await readJsonFileSlices(file, this.host.slicedMembers, nextTurn);
      state = await this.host.fromFile(asObject(parsed));
    } catch (err) {
      this.unreadable = {
        seen,
        since: this.unreadable?.since ?? Date.now(),
        error: errorMessage(err),
      };
      this.opts.logger?.warn(
        { file, err: this.unreadable.error },
        'state file unreadable; keeping the state in memory',
      );
      return;
    }
    // Our own writes cannot have landed meanwhile: a write renames only over the file it
    // last saw, and this one it has not. Changes made meanwhile are in pending.
    for (const replay of this.pending) replay(state);
    this.host.install(state);
    this.lastSeen = seen;
    this.unreadable = undefined;
    this.adoptions++;
    this.host.adopted();
  }

  /**
   * One write at a time, at most writeDelayMs after the first change not yet written (the
   * timer is not pushed back by later changes), so a burst of changes shares one write.
   * When a whole write takes longer than that (a large store: about 0.5 s at 100,000
   * domains), the next one waits as long as the last one took, so a store written
   * continuously spends at most half its time writing instead of all of it.
   */
  private scheduleWrite(delayMs = Math.max(this.opts.writeDelayMs ?? 100, this.lastWriteMs)): void {
    if (this.flushing || this.writeTimer || this.writing || this.pending.length === 0) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      const started = performance.now();
      this.writing = this.writeOnce(false).then(
        (done) => {
          if (done) this.lastWriteMs = performance.now() - started;
          this.afterWrite(undefined);
        },
        (err: unknown) => {
          this.opts.logger?.error(
            { file: this.opts.file, err: errorMessage(err), pending: this.pending.length },
            'state file write failed; retrying in 1 s',
          );
          this.afterWrite(1000);
        },
      );
    }, delayMs);
    // A process that exits without stop() loses this window, as a crash would; stop() flushes.
    this.writeTimer.unref();
  }

  private afterWrite(retryMs: number | undefined): void {
    this.writing = undefined;
    this.scheduleWrite(retryMs);
  }

  /**
   * Writes the state as it is now to a temp file, in slices, then renames it over the file,
   * unless the file changed meanwhile: then nothing is renamed, and the next attempt adopts
   * the foreign write first. Returns whether the file now holds our changes.
   */
  private async writeOnce(final: boolean): Promise<boolean> {
    const file = this.opts.file;
    const tmp = this.tmp;
    // Never write over a file we have not read.
    await this.adoptForeign();
    if (this.unreadable && !this.setAsideUnreadable(final)) return false;
    const adoptions = this.adoptions;
    const covered = this.pending.length;
    // 500 domains (~130 kB of JSON) per slice: a few ms of the event loop each.
    const slices = jsonSliceBytes(this.host.toFile(), 500);
    try {
      const out = await open(tmp, 'w');
      try {
        // Each slice is a view of one reused buffer: written whole before the next is made.
        for (const bytes of slices) {
          for (let at = 0; at < bytes.length;)
            at += (await out.write(bytes, at, bytes.length - at)).bytesWritten;
        }
      } finally {
        await out.close();
      }
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    // Renaming over the file frees the replaced one in the rename itself: 40 ms of the event
    // loop for 27 MB (100,000 domains), measured. A second link keeps it alive through the
    // rename, and the async unlink after it frees it on the thread pool.
    const old = `${tmp}.old`;
    await rm(old, { force: true });
    await link(file, old).catch(() => undefined);
    try {
      // Check and rename in one synchronous step: nothing in this process runs between
      // them, and another process has only the microseconds of one stat to slip a write in.
      const now = this.stat();
      if (adoptions !== this.adoptions || (now !== undefined && !sameStat(now, this.lastSeen))) {
        await rm(tmp, { force: true });
        return false;
      }
      renameSync(tmp, file);
      this.lastSeen = this.stat();
      this.pending.splice(0, covered);
    } finally {
      await rm(old, { force: true });
    }
    return true;
  }

  /**
   * An unreadable file is left alone for unreadableGraceMs (its writer may be midway); after
   * that, or when stopping, it is renamed aside so nothing is lost, and ours takes its place.
   */
  private setAsideUnreadable(final: boolean): boolean {
    const bad = this.unreadable;
    if (!bad) return true;
    if (!final && Date.now() - bad.since < (this.opts.unreadableGraceMs ?? 5000)) return false;
    const file = this.opts.file;
    const aside = `${file}.unreadable-${Date.now()}`;
    if (sameStat(this.stat(), bad.seen)) renameSync(file, aside);
    this.opts.logger?.error({ file, aside, err: bad.error }, 'unreadable state file set aside');
    this.unreadable = undefined;
    this.lastSeen = undefined;
    return true;
  }
}

function asObject(parsed: unknown): Record<string, unknown> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('not a JSON object');
  return parsed as Record<string, unknown>;
}
