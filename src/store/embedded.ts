// The embedded store: memory, optionally persisted to one JSON file written atomically
// (temp file + rename). The file is also how another process (the `cirrus token create`
// command) reaches a running server: a changed file is read back and announced as a
// remote change, exactly as a Redis publish would be. Health views and locks live in
// memory only: they are about this one process, and expire like their Redis keys.
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChangeKind, Store, StoreChange, StoreState } from './store.js';
import type { Domain, EdgeNode, HealthView, NodeHealth, TokenRecord } from './model.js';
import type { GslbPolicy } from '../gslb/policy-model.js';
import { readPolicy } from './policy-record.js';
import type { JournalEntry, ZoneVersion } from '../xfr/journal.js';
import type { PeersDocument } from '../xfr/peers.js';
import { nextSerial } from '../snapshot/serial.js';
import { CirrusError, errorMessage } from '../lib/errors.js';
import type { AcmeDnsAccount, AcmeDomainState, AcmeTxt, StoredCertificate } from '../acme/model.js';
import { keys } from './keys.js';

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

const emptyXfr = () => ({ peers: null, versions: {}, journals: {} });

function emptyState(): FileState {
  return {
    version: 1,
    domains: {},
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

const clone = <T>(v: T): T => structuredClone(v);

/** A node as written by putNode: its config, with the health the checker recorded kept. */
function withHealthOf(node: EdgeNode, prev: EdgeNode | undefined): EdgeNode {
  const { health: _ignored, ...config } = clone(node);
  return prev?.health ? { ...config, health: clone(prev.health) } : config;
}

const sameHealth = (a: NodeHealth | undefined, b: NodeHealth): boolean =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

export interface EmbeddedStoreOptions {
  /** JSON file to persist to; undefined keeps everything in memory. */
  file?: string | undefined;
  /** How often to look for writes by other processes. */
  watchIntervalMs?: number;
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded';
  private state = emptyState();
  private readonly events = new EventEmitter();
  private lastSeen: { mtimeMs: number; size: number } | undefined;
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

  constructor(private readonly opts: EmbeddedStoreOptions = {}) {}

  async start(): Promise<void> {
    const file = this.opts.file;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    this.readFile();
    this.poller = setInterval(() => this.pollFile(), this.opts.watchIntervalMs ?? 500);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.poller);
    this.poller = undefined;
    this.events.removeAllListeners();
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private emit(kind: ChangeKind, origin: 'local' | 'remote' = 'local'): void {
    this.events.emit('change', { kind, origin } satisfies StoreChange);
  }

  private stat(): { mtimeMs: number; size: number } | undefined {
    try {
      const s = statSync(this.opts.file as string);
      return { mtimeMs: s.mtimeMs, size: s.size };
    } catch {
      return undefined;
    }
  }

  private readFile(): boolean {
    const file = this.opts.file as string;
    const seen = this.stat();
    if (!seen) {
      this.lastSeen = undefined;
      return false;
    }
    let parsed: FileState;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as FileState;
    } catch (err) {
      throw new CirrusError('STORE', `state file ${file} is unreadable: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.state = { ...emptyState(), ...parsed };
    this.lastSeen = seen;
    return true;
  }

  /** Picks up a write made by another process since we last read or wrote the file. */
  private syncFromFile(): boolean {
    if (!this.opts.file) return false;
    const now = this.stat();
    if (!now) return false;
    if (this.lastSeen && now.mtimeMs === this.lastSeen.mtimeMs && now.size === this.lastSeen.size)
      return false;
    return this.readFile();
  }

  private pollFile(): void {
    try {
      if (this.syncFromFile()) this.emit('all', 'remote');
    } catch {
      // A half-written foreign file is retried on the next poll; our state stays as it was.
    }
  }

  private persist(): void {
    const file = this.opts.file;
    if (!file) return;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, file);
    this.lastSeen = this.stat();
  }

  /** Every mutation: catch up with foreign writes, apply, persist, announce. */
  private mutate<T>(kind: ChangeKind | undefined, fn: (s: FileState) => T): T {
    this.syncFromFile();
    const result = fn(this.state);
    this.persist();
    if (kind) this.emit(kind);
    return result;
  }

  private read(): FileState {
    this.syncFromFile();
    return this.state;
  }

  async loadState(zone: string): Promise<StoreState> {
    const s = this.read();
    return {
      // Domains are replaced whole on every write and never changed in place, so readers
      // (the snapshot builder: 100,000 of them) may share them; nodes' health is updated
      // in place, so they are copied.
      domains: Object.values(s.domains),
      nodes: Object.values(s.nodes).map(clone),
      zoneText: s.zones[zone] ?? null,
      policy: s.policy ? readPolicy(s.policy) : null,
    };
  }

  async isEmpty(zone: string): Promise<boolean> {
    const s = this.read();
    return (
      Object.keys(s.domains).length === 0 &&
      Object.keys(s.nodes).length === 0 &&
      s.zones[zone] === undefined &&
      !s.policy
    );
  }

  async listDomains(): Promise<Domain[]> {
    return Object.values(this.read().domains).map(clone);
  }
  async getDomain(name: string): Promise<Domain | undefined> {
    const d = this.read().domains[name];
    return d && clone(d);
  }
  async putDomain(domain: Domain): Promise<void> {
    this.mutate('domains', (s) => void (s.domains[domain.domain] = clone(domain)));
  }
  async deleteDomain(name: string): Promise<boolean> {
    if (!this.read().domains[name]) return false;
    return this.mutate('domains', (s) => delete s.domains[name]);
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
    this.mutate('nodes', (s) => void (s.nodes[node.id] = withHealthOf(node, s.nodes[node.id])));
  }
  async deleteNode(id: string): Promise<boolean> {
    if (!this.read().nodes[id]) return false;
    return this.mutate('nodes', (s) => delete s.nodes[id]);
  }
  async replaceNodes(nodes: EdgeNode[]): Promise<void> {
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
    this.mutate('tokens', (s) => void (s.tokens[token.id] = { ...clone(token), hash }));
  }
  async listTokens(): Promise<TokenRecord[]> {
    return Object.values(this.read().tokens).map(({ hash: _hash, ...t }) => t);
  }
  async deleteToken(id: string): Promise<boolean> {
    if (!this.read().tokens[id]) return false;
    return this.mutate('tokens', (s) => delete s.tokens[id]);
  }
  async tokenIdByHash(hash: string): Promise<string | undefined> {
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
    this.mutate('policy', (s) => void (s.policy = clone(policy)));
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
    this.mutate(flipped ? 'health' : undefined, (s) => {
      const n = s.nodes[id];
      if (!n) return;
      n.active = active;
      n.health = clone(health);
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
    this.mutate('xfr', (s) => void ((s.xfr ??= emptyXfr()).peers = clone(doc)));
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
    this.syncFromFile();
    if ((this.state.xfr?.versions[zone]?.serial ?? null) !== expected) return false;
    this.mutate(undefined, (s) => {
      const x = (s.xfr ??= emptyXfr());
      x.versions[zone] = clone(next);
      if (entry) {
        const journal = [...(x.journals[zone] ?? []), clone(entry)];
        x.journals[zone] = journal.slice(Math.max(0, journal.length - maxEntries));
      }
    });
    return true;
  }

  async loadJournal(zone: string): Promise<JournalEntry[]> {
    return clone(this.read().xfr?.journals[zone] ?? []);
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
    this.mutate(undefined, (s) => void ((s.acmeDns ??= {})[account.username] = clone(account)));
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
    this.mutate(undefined, (s) => void ((s.acme ??= {})[state.domain] = clone(state)));
  }

  async getCertificate(domain: string): Promise<StoredCertificate | undefined> {
    const c = this.read().certs?.[domain];
    return c && clone(c);
  }

  async putCertificate(domain: string, cert: StoredCertificate): Promise<void> {
    this.mutate(undefined, (s) => void ((s.certs ??= {})[domain] = clone(cert)));
  }

  async claimAcmeKey(which: { account: true } | { domain: string }, pem: string): Promise<string> {
    const key = 'domain' in which ? keys.acmeCertKey(which.domain) : keys.acmeAccountKey;
    const stored = this.read().acmeKeys?.[key];
    if (stored !== undefined) return stored;
    this.mutate(undefined, (s) => void ((s.acmeKeys ??= {})[key] = pem));
    return pem;
  }
}
