// The embedded store: memory, optionally persisted to one JSON file written atomically
// (temp file + rename) shortly after each change, in slices that hand the event loop back.
// The file is also how another process (`cirrus token create`) reaches a running server: a
// changed file is read back, the changes not yet written replayed over it, and announced as
// a remote change, exactly as a Redis publish would be. Health views and locks live in
// memory only: they are about this one process, and expire like their Redis keys.
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { link, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ChangeKind, Store, StoreChange, StoreState } from './store.js';
import type { Domain, EdgeNode, HealthView, NodeHealth, TokenRecord } from './model.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import { readPolicy } from './policy-record.js';
import type { JournalEntry, ZoneVersion } from '../xfr/journal.js';
import type { PeersDocument } from '../xfr/peers.js';
import { nextSerial } from '../snapshot/serial.js';
import { CirrusError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { AcmeDnsAccount, AcmeDomainState, AcmeTxt, StoredCertificate } from '../acme/model.js';
import { keys } from './keys.js';
import { jsonSlices, parseJsonSlices } from './json-slices.js';
import { nextTurn } from '../lib/cooperative.js';

const DOMAINS: ReadonlySet<string> = new Set(['domains']);

/** The file's form (older files lack the optional members). */
interface FileState {
  version: 1;
  domains: Record<string, Domain>;
  nodes: Record<string, EdgeNode>;
  zones: Record<string, string>;
  tokens: Record<string, TokenRecord & { hash: string }>;
  soa: Record<string, { serial: number; hash: string }>;
  meta: Record<string, string>;
  /** Absent in files written before the policy existed. */
  policy?: GslbPolicy | null;
  /** Absent in files written before ACME existed. Challenge values by JSON [name, value]. */
  acmeTxt?: Record<string, number>;
  acmeDns?: Record<string, AcmeDnsAccount>;
  acme?: Record<string, AcmeDomainState>;
  certs?: Record<string, StoredCertificate>;
  /** `cdn:acmeacct:global` and `cdn:acmecertkey:{domain}` by their key. */
  acmeKeys?: Record<string, string>;
  /** Absent in files written before the hidden master existed. */
  xfr?: {
    peers: PeersDocument | null;
    versions: Record<string, ZoneVersion>;
    journals: Record<string, JournalEntry[]>;
  };
}

/**
 * The state in memory: the file's form with the domains in a Map, because listing 100,000
 * keys of a plain object takes 100 ms or more and a Map's values about 1 ms. Domains are
 * replaced whole on every write and never changed in place (jsonSlices relies on it).
 */
type State = Omit<FileState, 'domains'> & { domains: Map<string, Domain> };

const emptyXfr = () => ({ peers: null, versions: {}, journals: {} });

function emptyState(): State {
  return {
    version: 1,
    domains: new Map(),
    nodes: {},
    zones: {},
    tokens: {},
    soa: {},
    meta: {},
    policy: null,
    acmeTxt: {},
    acmeDns: {},
    acme: {},
    certs: {},
    acmeKeys: {},
  };
}

/** The file's content as parsed: by JSON.parse at start, by parseJsonSlices later. */
type Parsed = Omit<FileState, 'domains'> & { domains?: FileState['domains'] | State['domains'] };

function fromFile(parsed: Parsed): State {
  const found = parsed.domains ?? {};
  let domains: Map<string, Domain>;
  if (found instanceof Map) domains = found;
  else {
    domains = new Map();
    for (const name in found) domains.set(name, found[name] as Domain);
  }
  return { ...emptyState(), ...parsed, domains };
}

const clone = <T>(v: T): T => structuredClone(v);

/** A node as written by putNode: its config, with the health the checker recorded kept. */
function withHealthOf(node: EdgeNode, prev: EdgeNode | undefined): EdgeNode {
  const { health: _ignored, ...config } = clone(node);
  return prev?.health ? { ...config, health: clone(prev.health) } : config;
}

const sameHealth = (a: NodeHealth | undefined, b: NodeHealth): boolean =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

interface FileStat {
  mtimeMs: number;
  size: number;
}
const sameStat = (a: FileStat | undefined, b: FileStat | undefined): boolean =>
  a !== undefined && b !== undefined && a.mtimeMs === b.mtimeMs && a.size === b.size;

type Mutation = (s: State) => unknown;

/** Tells apart the temp files of several stores on one file in one process. */
let instances = 0;

export interface EmbeddedStoreOptions {
  /** JSON file to persist to; undefined keeps everything in memory. */
  file?: string | undefined;
  /** How often to look for writes by other processes. */
  watchIntervalMs?: number;
  /**
   * How long after a change the file is written (default 100 ms); changes in that time
   * share one write. A crash loses at most this window plus one write's duration.
   */
  writeDelayMs?: number;
  /**
   * How long a file another process left unreadable is waited for (default 5 s) before it
   * is set aside as `<file>.unreadable-<ms>` and our state written in its place.
   */
  unreadableGraceMs?: number;
  logger?: Logger | undefined;
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded';
  private state = emptyState();
  private readonly events = new EventEmitter();
  /** The file as we last read or wrote it: any other stat means another process wrote it. */
  private lastSeen: FileStat | undefined;
  /**
   * A plain timer rather than fs.watchFile: watchFile misses a write that lands before its
   * first stat, and unwatchFile drops every watcher on the path in this process, not just ours.
   * pollFile already compares mtime and size itself.
   */
  private poller: NodeJS.Timeout | undefined;
  /** `cdn:health:{node}:{instance}` → view and expiry (ms since the epoch). */
  private readonly views = new Map<string, { node: string; view: HealthView; expires: number }>();
  /** `cdn:lock:{name}` → owner and expiry. */
  private readonly locks = new Map<string, { owner: string; expires: number }>();
  /** `cdn:instance:{id}` values: this process's only, never persisted. */
  private readonly instances = new Map<string, { value: string; expires: number }>();

  /**
   * Every change applied in memory since the last write that reached the file, in order.
   * A foreign write is adopted by reading the file and replaying these over it, so neither
   * side is lost; a write that reaches the file drops the ones it covered.
   */
  private pending: Mutation[] = [];
  private writeTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Bumped each time a foreign file is adopted: a write begun before it must not land. */
  private adoptions = 0;
  /** The unreadable foreign file we last tried, so it is not parsed again until it changes. */
  private unreadable: { seen: FileStat; since: number; error: string } | undefined;
  /** flush() is writing: the timer stays off so two writes never share the temp file. */
  private flushing = false;
  private readonly tmp: string | undefined;
  private adopting: Promise<void> | undefined;

  constructor(private readonly opts: EmbeddedStoreOptions = {}) {
    this.tmp = opts.file && `${opts.file}.${process.pid}.${++instances}.tmp`;
  }

  async start(): Promise<void> {
    const file = this.opts.file;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    const seen = this.stat();
    if (seen) {
      this.state = fromFile(this.parseFile());
      this.lastSeen = seen;
    }
    this.poller = setInterval(() => this.pollFile(), this.opts.watchIntervalMs ?? 500);
    this.poller.unref();
  }

  /** Writes every change still pending before returning (see flush). */
  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.poller = undefined;
    try {
      await this.adopting;
      await this.flush();
    } finally {
      this.events.removeAllListeners();
    }
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

  onChange(listener: (change: StoreChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(kind: ChangeKind, origin: 'local' | 'remote' = 'local'): void {
    this.events.emit('change', { kind, origin } satisfies StoreChange);
  }

  private stat(): FileStat | undefined {
    // Runs at every poll and write: a missing file must not cost an exception.
    try {
      const s = statSync(this.opts.file as string, { throwIfNoEntry: false });
      return s && { mtimeMs: s.mtimeMs, size: s.size };
    } catch {
      return undefined;
    }
  }

  /** start() only: the server is not answering yet, and a one-shot command needs the file as it is. */
  private parseFile(): FileState {
    const file = this.opts.file as string;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not a JSON object');
      return parsed as FileState;
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
  private adoptForeign(): Promise<void> {
    this.adopting ??= this.readForeign().finally(() => (this.adopting = undefined));
    return this.adopting;
  }

  private async readForeign(): Promise<void> {
    const file = this.opts.file;
    if (!file) return;
    const seen = this.stat();
    if (!seen || sameStat(seen, this.lastSeen) || sameStat(seen, this.unreadable?.seen)) return;
    let parsed: Parsed;
    try {
      const text = await readFile(file, 'utf8');
      parsed = (await parseJsonSlices(text, DOMAINS, nextTurn)) as unknown as Parsed;
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
    const state = fromFile(parsed);
    for (const m of this.pending) m(state);
    this.state = state;
    this.lastSeen = seen;
    this.unreadable = undefined;
    this.adoptions++;
    this.emit('all', 'remote');
  }

  private pollFile(): void {
    void this.adoptForeign();
  }

  /**
   * Every mutation: apply, schedule the write, announce. A foreign write not yet adopted is
   * not waited for: this change stays pending and is replayed over it when it is. So `fn`
   * may run more than once, on different states: it closes over its own copies of the
   * caller's objects, never the objects themselves.
   */
  private mutate<T>(kind: ChangeKind | undefined, fn: (s: State) => T): T {
    const result = fn(this.state);
    if (this.opts.file) {
      this.pending.push(fn);
      this.scheduleWrite();
    }
    if (kind) this.emit(kind);
    return result;
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

  /** How long the last completed write took, from its first slice to the rename (ms). */
  private lastWriteMs = 0;

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
    const file = this.opts.file as string;
    const tmp = this.tmp as string;
    // Never write over a file we have not read.
    await this.adoptForeign();
    if (this.unreadable && !this.setAsideUnreadable(final)) return false;
    const adoptions = this.adoptions;
    const covered = this.pending.length;
    // 500 domains (~130 kB of JSON) per slice: a few ms of the event loop each.
    const slices = jsonSlices(this.state, 500);
    try {
      const out = await open(tmp, 'w');
      try {
        for (const slice of slices) {
          const bytes = Buffer.from(slice);
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
    const file = this.opts.file as string;
    const aside = `${file}.unreadable-${Date.now()}`;
    if (sameStat(this.stat(), bad.seen)) renameSync(file, aside);
    this.opts.logger?.error({ file, aside, err: bad.error }, 'unreadable state file set aside');
    this.unreadable = undefined;
    this.lastSeen = undefined;
    return true;
  }

  /** Memory only: the poller adopts foreign writes (within watchIntervalMs and a parse). */
  private read(): State {
    return this.state;
  }

  async loadState(zone: string): Promise<StoreState> {
    const s = this.read();
    return {
      // Domains are replaced whole on every write and never changed in place, so readers
      // (the snapshot builder: 100,000 of them) may share them; nodes' health is updated
      // in place, so they are copied.
      domains: Array.from(s.domains.values()),
      nodes: Object.values(s.nodes).map(clone),
      zoneText: s.zones[zone] ?? null,
      policy: s.policy ? readPolicy(s.policy) : null,
    };
  }

  async isEmpty(zone: string): Promise<boolean> {
    const s = this.read();
    return (
      s.domains.size === 0 &&
      Object.keys(s.nodes).length === 0 &&
      s.zones[zone] === undefined &&
      !s.policy
    );
  }

  async listDomains(): Promise<Domain[]> {
    return Array.from(this.read().domains.values(), clone);
  }
  async getDomain(name: string): Promise<Domain | undefined> {
    const d = this.read().domains.get(name);
    return d && clone(d);
  }
  async putDomain(domain: Domain): Promise<void> {
    const record = clone(domain);
    this.mutate('domains', (s) => void s.domains.set(record.domain, record));
  }
  async deleteDomain(name: string): Promise<boolean> {
    if (!this.read().domains.has(name)) return false;
    return this.mutate('domains', (s) => s.domains.delete(name));
  }

  async listNodes(): Promise<EdgeNode[]> {
    return Object.values(this.read().nodes).map(clone);
  }
  async getNode(id: string): Promise<EdgeNode | undefined> {
    const n = this.read().nodes[id];
    return n && clone(n);
  }
  /** The health checker's record survives config writes, as its hash fields do in Redis. */
  async putNode(node: EdgeNode): Promise<void> {
    const copy = clone(node);
    this.mutate('nodes', (s) => void (s.nodes[copy.id] = withHealthOf(copy, s.nodes[copy.id])));
  }
  async deleteNode(id: string): Promise<boolean> {
    if (!this.read().nodes[id]) return false;
    return this.mutate('nodes', (s) => delete s.nodes[id]);
  }
  async replaceNodes(list: EdgeNode[]): Promise<void> {
    const nodes = clone(list);
    this.mutate(
      'nodes',
      (s) =>
        void (s.nodes = Object.fromEntries(
          nodes.map((n) => [n.id, withHealthOf(n, s.nodes[n.id])]),
        )),
    );
  }

  async getZoneText(zone: string): Promise<string | null> {
    return this.read().zones[zone] ?? null;
  }
  async putZoneText(zone: string, text: string): Promise<void> {
    this.mutate('zone', (s) => void (s.zones[zone] = text));
  }

  async putToken(token: TokenRecord, hash: string): Promise<void> {
    const record = { ...clone(token), hash };
    this.mutate('tokens', (s) => void (s.tokens[record.id] = clone(record)));
  }
  async listTokens(): Promise<TokenRecord[]> {
    return Object.values(this.read().tokens).map(({ hash: _hash, ...t }) => t);
  }
  async deleteToken(id: string): Promise<boolean> {
    if (!this.read().tokens[id]) return false;
    return this.mutate('tokens', (s) => delete s.tokens[id]);
  }
  /**
   * A token unknown here may have just been written to the file by another process
   * (`cirrus token create` beside a running server): the file is checked before the token is
   * refused, so it is accepted at once rather than at the next poll. A stat when nothing
   * changed; one shared adoption when something did.
   */
  async tokenIdByHash(hash: string): Promise<string | undefined> {
    const known = this.tokenIdIn(hash);
    if (known !== undefined || !this.opts.file) return known;
    await this.adoptForeign();
    return this.tokenIdIn(hash);
  }

  private tokenIdIn(hash: string): string | undefined {
    return Object.values(this.read().tokens).find((t) => t.hash === hash)?.id;
  }

  async advanceSerial(zone: string, contentHash: string, floor: number): Promise<number> {
    const cur = this.read().soa[zone];
    if (cur && cur.hash === contentHash) return cur.serial;
    return this.mutate(undefined, (s) => {
      const serial = nextSerial(cur?.serial, floor);
      s.soa[zone] = { serial, hash: contentHash };
      return serial;
    });
  }

  async getPolicy(): Promise<GslbPolicy | null> {
    const p = this.read().policy;
    return p ? readPolicy(p) : null;
  }

  async putPolicy(policy: GslbPolicy): Promise<void> {
    const copy = clone(policy);
    this.mutate('policy', (s) => void (s.policy = clone(copy)));
  }

  /**
   * Counters alone stay in memory (no file write per probe round); a change of `active` or
   * of the state is persisted, so a restart warm-starts from it.
   */
  async setNodeHealth(id: string, active: boolean, health: NodeHealth): Promise<boolean> {
    const cur = this.read().nodes[id];
    if (!cur) return false;
    const flipped = cur.active !== active;
    const persist = flipped || cur.health?.state !== health.state;
    if (!persist) {
      if (!sameHealth(cur.health, health)) cur.health = clone(health);
      return true;
    }
    const copy = clone(health);
    this.mutate(flipped ? 'health' : undefined, (s) => {
      const n = s.nodes[id];
      if (!n) return;
      n.active = active;
      n.health = clone(copy);
    });
    return true;
  }

  async putHealthViews(views: ReadonlyMap<string, HealthView>, ttlSec: number): Promise<void> {
    const expires = Date.now() + ttlSec * 1000;
    for (const [node, view] of views)
      this.views.set(`${node}:${view.instance}`, { node, view: clone(view), expires });
  }

  async loadHealthViews(nodeIds: readonly string[]): Promise<Map<string, HealthView[]>> {
    const now = Date.now();
    const wanted = new Set(nodeIds);
    const out = new Map<string, HealthView[]>();
    for (const [key, v] of this.views) {
      if (v.expires <= now) {
        this.views.delete(key);
        continue;
      }
      if (!wanted.has(v.node)) continue;
      const list = out.get(v.node) ?? [];
      list.push(clone(v.view));
      out.set(v.node, list);
    }
    return out;
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.takeLock(keys.lock(name), owner, ttlMs);
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    this.dropLock(keys.lock(name), owner);
  }

  async acquireCertLock(domain: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.takeLock(keys.acmeLock(domain), owner, ttlMs);
  }

  async releaseCertLock(domain: string, owner: string): Promise<void> {
    this.dropLock(keys.acmeLock(domain), owner);
  }

  private takeLock(name: string, owner: string, ttlMs: number): boolean {
    const now = Date.now();
    const cur = this.locks.get(name);
    if (cur && cur.expires > now && cur.owner !== owner) return false;
    this.locks.set(name, { owner, expires: now + ttlMs });
    return true;
  }

  private dropLock(name: string, owner: string): void {
    if (this.locks.get(name)?.owner === owner) this.locks.delete(name);
  }

  async getPeers(): Promise<PeersDocument | null> {
    const p = this.read().xfr?.peers;
    return p ? clone(p) : null;
  }

  async putPeers(doc: PeersDocument): Promise<void> {
    const copy = clone(doc);
    this.mutate('xfr', (s) => void ((s.xfr ??= emptyXfr()).peers = clone(copy)));
  }

  async getZoneVersion(zone: string): Promise<ZoneVersion | null> {
    const v = this.read().xfr?.versions[zone];
    return v ? clone(v) : null;
  }

  async commitZoneVersion(
    zone: string,
    expected: number | null,
    next: ZoneVersion,
    entry: JournalEntry | null,
    maxEntries: number,
  ): Promise<boolean> {
    if ((this.state.xfr?.versions[zone]?.serial ?? null) !== expected) return false;
    const version = clone(next);
    const step = entry && clone(entry);
    this.mutate(undefined, (s) => {
      const x = (s.xfr ??= emptyXfr());
      x.versions[zone] = clone(version);
      if (step) {
        const journal = [...(x.journals[zone] ?? []), clone(step)];
        x.journals[zone] = journal.slice(Math.max(0, journal.length - maxEntries));
      }
    });
    return true;
  }

  async loadJournal(zone: string): Promise<JournalEntry[]> {
    return clone(this.read().xfr?.journals[zone] ?? []);
  }

  async putInstance(id: string, value: string, ttlSec: number): Promise<void> {
    this.instances.set(id, { value, expires: Date.now() + ttlSec * 1000 });
  }

  async listInstances(): Promise<Map<string, string>> {
    const now = Date.now();
    const out = new Map<string, string>();
    for (const [id, e] of this.instances) {
      if (e.expires > now) out.set(id, e.value);
      else this.instances.delete(id);
    }
    return out;
  }

  async getMeta(name: string): Promise<string | undefined> {
    return this.read().meta[name];
  }

  async setMeta(name: string, value: string): Promise<void> {
    this.mutate(undefined, (s) => void (s.meta[name] = value));
  }

  async putAcmeTxt(txt: AcmeTxt): Promise<void> {
    this.mutate('acme', (s) => {
      s.acmeTxt ??= {};
      s.acmeTxt[JSON.stringify([txt.name, txt.value])] = txt.expiresAt;
    });
  }

  async deleteAcmeTxt(name: string, value?: string): Promise<number> {
    const doomed = Object.keys(this.read().acmeTxt ?? {}).filter((m) => {
      const [n, v] = JSON.parse(m) as [string, string];
      return n === name && (value === undefined || v === value);
    });
    if (doomed.length === 0) return 0;
    this.mutate('acme', (s) => {
      for (const m of doomed) delete s.acmeTxt?.[m];
    });
    return doomed.length;
  }

  async listAcmeTxt(now: number): Promise<AcmeTxt[]> {
    const all = this.read().acmeTxt ?? {};
    const out: AcmeTxt[] = [];
    let expired = false;
    for (const [m, expiresAt] of Object.entries(all)) {
      if (expiresAt <= now) {
        expired = true;
        continue;
      }
      const [name, value] = JSON.parse(m) as [string, string];
      out.push({ name, value, expiresAt });
    }
    if (expired) {
      this.mutate(undefined, (s) => {
        for (const [m, at] of Object.entries(s.acmeTxt ?? {})) if (at <= now) delete s.acmeTxt?.[m];
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.value.localeCompare(b.value));
  }

  async putAcmeDnsAccount(account: AcmeDnsAccount): Promise<void> {
    const copy = clone(account);
    this.mutate(undefined, (s) => void ((s.acmeDns ??= {})[copy.username] = clone(copy)));
  }

  async getAcmeDnsAccount(username: string): Promise<AcmeDnsAccount | undefined> {
    const a = this.read().acmeDns?.[username];
    return a && clone(a);
  }

  async getAcmeState(domain: string): Promise<AcmeDomainState | undefined> {
    const a = this.read().acme?.[domain];
    return a && clone(a);
  }

  async putAcmeState(state: AcmeDomainState): Promise<void> {
    const copy = clone(state);
    this.mutate(undefined, (s) => void ((s.acme ??= {})[copy.domain] = clone(copy)));
  }

  async getCertificate(domain: string): Promise<StoredCertificate | undefined> {
    const c = this.read().certs?.[domain];
    return c && clone(c);
  }

  async putCertificate(domain: string, cert: StoredCertificate): Promise<void> {
    const copy = clone(cert);
    this.mutate(undefined, (s) => void ((s.certs ??= {})[domain] = clone(copy)));
  }

  async claimAcmeKey(which: { account: true } | { domain: string }, pem: string): Promise<string> {
    const key = 'domain' in which ? keys.acmeCertKey(which.domain) : keys.acmeAccountKey;
    const stored = this.read().acmeKeys?.[key];
    if (stored !== undefined) return stored;
    this.mutate(undefined, (s) => void ((s.acmeKeys ??= {})[key] = pem));
    return pem;
  }
}
