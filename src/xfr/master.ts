// The hidden master: follows the published snapshots, records each new zone version and
// its difference in the store's IXFR journal, NOTIFYs every secondary (RFC 1996) until it
// acknowledges, polls the serial each one serves, and serves transfers (transfer.ts).
// Lifecycle: create → start (after the first snapshot) → stop.
import { randomInt } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { XfrRepository } from './repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { serialGt } from '../snapshot/serial.js';
import type { ExchangeHandler } from '../pipeline/exchange.js';
import { exportRecordsCooperatively } from '../snapshot/export.js';
import { diffVersions, recordFromKey, zoneVersionCooperatively } from './journal.js';
import { Peers, type PeersDocument, type Secondary } from './peers.js';
import { signWithMac, verifyReply, type TsigKeyring } from '../wire/tsig.js';
import { notifyMessage, soaQuery, soaSerialIn } from '../wire/transfer.js';
import { udpRequest } from './udp-request.js';
import { transferExchange, type TransferKind, type TransferRecord } from './transfer.js';
import { xfrMetrics, type XfrMetrics } from './metrics.js';

export interface SecondaryStatus {
  name: string;
  address: string;
  port: number;
  key: string | null;
  notify: boolean;
  source: 'config' | 'api';
  /** The last NOTIFY: the serial it announced, when it was sent and acknowledged. */
  lastNotify: {
    serial: number;
    sentAt: string;
    ackedAt: string | null;
    attempts: number;
    error: string | null;
  } | null;
  /** The serial the secondary answers with (SOA poll), null until one answered. */
  servedSerial: number | null;
  polledAt: string | null;
  pollError: string | null;
  /** True when it serves our serial. */
  current: boolean;
  /** Seconds it has been behind our serial; 0 when current. */
  lagSeconds: number;
  lastTransfer: {
    at: string;
    kind: TransferKind;
    serial: number;
    messages: number;
    records: number;
  } | null;
}

export interface PropagationStatus {
  complete: boolean;
  secondaries: Array<{ name: string; serial: number | null; current: boolean }>;
}

interface TargetState {
  wanted: number | undefined;
  inFlight: boolean;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  lastNotify: SecondaryStatus['lastNotify'];
  servedSerial: number | null;
  polledAt: number | null;
  pollError: string | null;
  behindSince: number | null;
  lastTransfer: SecondaryStatus['lastTransfer'];
}

export interface HiddenMasterDeps {
  config: Config;
  repos: { store: Store; xfr: XfrRepository };
  /** The live snapshot and its publications. */
  snapshot: () => Snapshot;
  onPublish: (listener: (s: Snapshot) => void) => () => void;
  logger: Logger;
  registry: Registry;
}

export class HiddenMaster {
  private peers: Peers;
  private readonly metrics: XfrMetrics;
  private readonly targets = new Map<string, TargetState>();
  /** Serial → when this instance first published it: the lag clock. */
  private readonly publishedAt = new Map<number, number>();
  private commits: Promise<void> = Promise.resolve();
  private unsubscribe: Array<() => void> = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private running = false;
  readonly exchange: ExchangeHandler;

  /** The TSIG keys in force (config and API); RFC 2136 UPDATE verifies with them too. */
  get keyring(): TsigKeyring {
    return this.peers.keyring;
  }

  constructor(private readonly deps: HiddenMasterDeps) {
    this.peers = new Peers(deps.config.xfr, null);
    this.metrics = xfrMetrics(deps.registry);
    this.exchange = transferExchange({
      snapshot: deps.snapshot,
      peers: () => this.peers,
      loadJournal: (zone) => deps.repos.xfr.loadJournal(zone),
      loadVersion: (zone) => deps.repos.xfr.getZoneVersion(zone),
      onTransfer: (t) => this.transferred(t),
      metrics: this.metrics,
      logger: deps.logger,
    });
  }

  /** Keys, secondaries, transfer ACL and UPDATE scopes in force. */
  get currentPeers(): Peers {
    return this.peers;
  }

  get secondaries(): readonly Secondary[] {
    return this.peers.secondaries;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.reloadPeers();
    this.unsubscribe.push(
      this.deps.repos.store.onChange((c) => {
        if (c.kind === 'xfr' || c.kind === 'all') void this.reloadPeers();
      }),
      this.deps.onPublish((s) => this.published(s)),
    );
    this.published(this.deps.snapshot());
    this.pollTimer = setInterval(() => void this.pollAll(), this.deps.config.xfr.pollIntervalMs);
    this.pollTimer.unref();
    void this.pollAll();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const off of this.unsubscribe.splice(0)) off();
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    for (const t of this.targets.values()) clearTimeout(t.timer);
    await this.commits.catch(() => undefined);
  }

  /** Re-reads the API-managed keys and secondaries; a bad document keeps the last good one. */
  async reloadPeers(): Promise<void> {
    let doc: PeersDocument | null;
    try {
      doc = await this.deps.repos.xfr.getPeers();
      this.peers = new Peers(this.deps.config.xfr, doc);
    } catch (err) {
      this.deps.logger.error({ err }, 'secondaries could not be loaded; the previous set stays');
      return;
    }
    const names = new Set(this.peers.secondaries.map((s) => s.name));
    for (const [name, t] of this.targets) {
      if (names.has(name)) continue;
      clearTimeout(t.timer);
      this.targets.delete(name);
      this.metrics.secondarySerial.remove(name);
      this.metrics.secondaryLag.remove(name);
      this.metrics.notifyAcked.remove(name);
    }
    // A secondary added now learns about the current serial at once.
    if (this.running) {
      const serial = this.deps.snapshot().serial;
      for (const s of this.peers.secondaries) if (!this.targets.has(s.name)) this.notify(s, serial);
    }
  }

  private target(name: string): TargetState {
    let t = this.targets.get(name);
    if (!t) {
      t = {
        wanted: undefined,
        inFlight: false,
        attempts: 0,
        timer: undefined,
        lastNotify: null,
        servedSerial: null,
        polledAt: null,
        pollError: null,
        behindSince: null,
        lastTransfer: null,
      };
      this.targets.set(name, t);
    }
    return t;
  }

  private published(snapshot: Snapshot): void {
    if (!this.publishedAt.has(snapshot.serial)) {
      this.publishedAt.set(snapshot.serial, Date.now());
      // Only the last few serials matter for lag.
      while (this.publishedAt.size > 64) {
        const oldest = this.publishedAt.keys().next().value as number;
        this.publishedAt.delete(oldest);
      }
    }
    // Versions are committed one at a time, in publication order, so the journal chains.
    this.commits = this.commits
      .then(() => this.commit(snapshot))
      .catch((err: unknown) =>
        this.deps.logger.error(
          { err, serial: snapshot.serial },
          'zone version not journaled; IXFR falls back to the whole zone',
        ),
      )
      .then(() => {
        if (!this.running || snapshot !== this.deps.snapshot()) return;
        for (const s of this.peers.secondaries) this.notify(s, snapshot.serial);
      });
  }

  /**
   * Records the snapshot's zone version and its difference from the stored one. Skipped
   * while nobody may transfer (no secondary, no allow entry, no key whose UPDATE scope
   * allows transfers): the journal's only readers
   * are transfers, and a large zone's version is not free to compute and store.
   */
  private async commit(snapshot: Snapshot): Promise<void> {
    const { repos, config } = this.deps;
    if (!this.peers.anyTransfer) return;
    const zone = snapshot.zone.name;
    await this.adoptStoredSignatures(snapshot);
    const next = await zoneVersionCooperatively(
      snapshot.serial,
      await exportRecordsCooperatively(snapshot),
    );
    for (let attempt = 0; attempt < 3; attempt++) {
      const stored = await repos.xfr.getZoneVersion(zone);
      if (stored && !serialGt(next.serial, stored.serial)) return; // as new, or another is ahead
      const entry = stored ? diffVersions(stored, next) : null;
      const ok = await repos.xfr.commitZoneVersion(
        zone,
        stored?.serial ?? null,
        next,
        entry,
        config.xfr.journalSize,
      );
      if (ok) {
        this.metrics.journalEntries.set((await repos.xfr.loadJournal(zone)).length);
        return;
      }
    }
    throw new Error('the stored zone version kept changing under us');
  }

  /**
   * A signed snapshot with no earlier version to reuse signatures from (the first of this
   * process) takes them from the journal's stored version, which the secondaries hold: an
   * unchanged RRset keeps its RRSIG across a restart, and the next IXFR stays small.
   */
  private async adoptStoredSignatures(snapshot: Snapshot): Promise<void> {
    const { signer, transferSignatures } = snapshot;
    if (!signer || !transferSignatures || transferSignatures.inherits) return;
    const stored = await this.deps.repos.xfr.getZoneVersion(snapshot.zone.name);
    if (!stored) return;
    transferSignatures.adopt(signer.signaturesIn(stored.records.map(recordFromKey)));
  }

  /** Coalesces: a NOTIFY in flight is followed by one for the newest serial only. */
  private notify(secondary: Secondary, serial: number): void {
    if (!secondary.notify || !this.running) return;
    const t = this.target(secondary.name);
    if (t.wanted === serial) return;
    t.wanted = serial;
    t.attempts = 0;
    clearTimeout(t.timer);
    t.timer = undefined;
    if (!t.inFlight) void this.sendNotify(secondary.name);
  }

  private async sendNotify(name: string): Promise<void> {
    const t = this.targets.get(name);
    const secondary = this.peers.secondaries.find((s) => s.name === name);
    if (!t || !secondary || t.wanted === undefined || !this.running) return;
    const serial = t.wanted;
    const snapshot = this.deps.snapshot();
    t.inFlight = true;
    t.attempts++;
    const sentAt = new Date().toISOString();
    let error: string | null = null;
    try {
      let msg = notifyMessage(randomInt(0, 0x10000), snapshot.zone.name, snapshot.zone.soa);
      const key = this.peers.key(secondary.key);
      let mac: Buffer | undefined;
      if (key) {
        const signed = signWithMac(msg, { key, requestMac: undefined });
        msg = signed.message;
        mac = signed.mac;
      }
      const reply = await udpRequest(
        secondary.address,
        secondary.port,
        msg,
        this.deps.config.xfr.notifyTimeoutMs,
      );
      const rcode = (reply[3] as number) & 0x0f;
      if (rcode !== 0) throw new Error(`NOTIFY answered with rcode ${rcode}`);
      if (key && mac) {
        const v = verifyReply(reply, key, mac);
        if (!v.ok) throw new Error(`NOTIFY answer failed TSIG: ${v.reason}`);
      }
    } catch (err) {
      error = errorMessage(err);
    }
    t.inFlight = false;
    t.lastNotify = {
      serial,
      sentAt,
      ackedAt: error ? null : new Date().toISOString(),
      attempts: t.attempts,
      error,
    };
    this.metrics.notifies.inc({
      secondary: name,
      result: error ? (error.startsWith('no answer') ? 'timeout' : 'error') : 'acked',
    });
    if (!this.running) return;
    if (!error) {
      this.metrics.notifyAcked.set({ secondary: name }, Date.now() / 1000);
      if (t.wanted === serial) t.wanted = undefined;
      else void this.sendNotify(name); // a newer serial arrived meanwhile
      // The transfer usually follows within milliseconds: look soon.
      setTimeout(() => void this.poll(secondary), 250).unref();
      return;
    }
    this.deps.logger.warn({ secondary: name, serial, attempt: t.attempts, error }, 'NOTIFY failed');
    const { notifyRetryMs, notifyMaxRetryMs } = this.deps.config.xfr;
    const wait = Math.min(notifyRetryMs * 2 ** (t.attempts - 1), notifyMaxRetryMs);
    t.timer = setTimeout(() => void this.sendNotify(name), wait);
    t.timer.unref();
  }

  private async pollAll(): Promise<void> {
    await Promise.all(this.peers.secondaries.map((s) => this.poll(s)));
  }

  private async poll(secondary: Secondary): Promise<void> {
    const t = this.target(secondary.name);
    const zone = this.deps.snapshot().zone.name;
    try {
      const reply = await udpRequest(
        secondary.address,
        secondary.port,
        soaQuery(randomInt(0, 0x10000), zone),
        this.deps.config.xfr.notifyTimeoutMs,
      );
      const rcode = (reply[3] as number) & 0x0f;
      const serial = rcode === 0 ? soaSerialIn(reply, 'answer') : undefined;
      if (serial === undefined) throw new Error(`SOA query answered rcode ${rcode}, no SOA`);
      t.servedSerial = serial;
      t.pollError = null;
    } catch (err) {
      t.pollError = errorMessage(err);
    }
    t.polledAt = Date.now();
    this.updateLag(secondary.name, t);
  }

  private updateLag(name: string, t: TargetState): void {
    const ours = this.deps.snapshot().serial;
    const current = t.servedSerial !== null && !serialGt(ours, t.servedSerial);
    if (current) t.behindSince = null;
    else if (t.behindSince === null) {
      // Behind since we published the serial it lacks (or since we first saw it behind).
      t.behindSince = this.publishedAt.get(ours) ?? Date.now();
    }
    if (t.servedSerial !== null)
      this.metrics.secondarySerial.set({ secondary: name }, t.servedSerial);
    this.metrics.secondaryLag.set({ secondary: name }, this.lagSeconds(t));
  }

  private lagSeconds(t: TargetState): number {
    return t.behindSince === null ? 0 : (Date.now() - t.behindSince) / 1000;
  }

  private transferred(rec: TransferRecord): void {
    const plain = rec.address.startsWith('::ffff:') ? rec.address.slice(7) : rec.address;
    for (const s of this.peers.secondaries) {
      if (s.address !== plain) continue;
      this.target(s.name).lastTransfer = {
        at: new Date().toISOString(),
        kind: rec.kind,
        serial: rec.serial,
        messages: rec.messages,
        records: rec.records,
      };
    }
  }

  status(): SecondaryStatus[] {
    const ours = this.deps.snapshot().serial;
    return this.peers.secondaries.map((s) => {
      const t = this.target(s.name);
      return {
        name: s.name,
        address: s.address,
        port: s.port,
        key: s.key,
        notify: s.notify,
        source: s.source,
        lastNotify: t.lastNotify,
        servedSerial: t.servedSerial,
        polledAt: t.polledAt === null ? null : new Date(t.polledAt).toISOString(),
        pollError: t.pollError,
        current: t.servedSerial !== null && !serialGt(ours, t.servedSerial),
        lagSeconds: this.lagSeconds(t),
        lastTransfer: t.lastTransfer,
      };
    });
  }

  /**
   * Resolves once every secondary serves `serial` or newer, or after `timeoutMs` with
   * complete = false (the ACME propagation barrier). Polls every 100 ms meanwhile.
   */
  async awaitSerial(serial: number, timeoutMs: number): Promise<PropagationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.pollAll();
      const secondaries = this.peers.secondaries.map((s) => {
        const served = this.target(s.name).servedSerial;
        return {
          name: s.name,
          serial: served,
          current: served !== null && !serialGt(serial, served),
        };
      });
      const complete = secondaries.every((s) => s.current);
      if (complete || Date.now() >= deadline || !this.running) return { complete, secondaries };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
