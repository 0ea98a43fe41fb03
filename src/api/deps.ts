// What the admin API needs from the rest of the server, passed in by buildApi's caller.
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Repositories } from '../repositories.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Logger } from '../lib/logger.js';
import type { GeoLookup } from '../geo/geo-record.js';
import type { HealthStatus } from '../health/checker.js';
import type { HealthBounds } from '../gslb/health-bound.js';
import type { TxtService } from '../acme/txt-service.js';
import type { CertificateService } from '../acme/certificates.js';
import type { PropagationStatus, SecondaryStatus } from '../xfr/master.js';
import type { WorkerStatus } from '../dns/workers.js';
import type { HeldChange, SnapshotSource } from '../snapshot/manager.js';
import type { Breach } from '../snapshot/publish-gate.js';
import type { StoreState } from '../snapshot/source.js';
import type { InstanceStatus } from '../snapshot/instances.js';
import type { UdpPath } from '../dns/udp-batch.js';

/** The publish gate of the snapshot manager (snapshot/publish-gate.ts). */
export interface PublishGate {
  readonly heldChange: HeldChange | undefined;
  /** Publishes what is held, on every instance sharing the store. */
  release(): Promise<void>;
  /** The bounds `change` alone would cross against the live content. */
  checkWrite(change: (state: StoreState) => StoreState): Breach[];
}

export interface ApiDeps {
  config: Config;
  /** Every feature's repository, and the store under them. */
  repos: Repositories;
  /** The live snapshot. */
  snapshot: () => Snapshot;
  /** Resolves when a snapshot including every write made so far is live. */
  flush: () => Promise<void>;
  /** The last snapshot build error, if the latest build failed. */
  lastBuildError: () => string | undefined;
  registry: Registry;
  /** The /metrics text when it is more than the registry's (DNS workers' counters added). */
  metricsText?: (() => Promise<string>) | undefined;
  /** Which code answers UDP in this process; undefined when DNS workers do. */
  udpPath?: (() => UdpPath | undefined) | undefined;
  /** DNS worker processes, when dns.workers > 0. */
  dnsWorkers?: (() => WorkerStatus[]) | undefined;
  logger: Logger;
  /** The live GeoIP view, for explain. */
  geo: GeoLookup;
  /** This instance's health checker: its view of every node, and whether it leads. */
  health: () => HealthStatus;
  /** The node bounds answers' TTLs are cut to, for explain; absent: plain TTLs. */
  healthBounds?: (() => HealthBounds | undefined) | undefined;
  /** Publishes challenge values; built from the fields above when absent. */
  txt?: TxtService | undefined;
  /** Certificate issuance and renewal; absent when acme.issuer.enabled is false. */
  certificates?: CertificateService | undefined;
  /** Each secondary: NOTIFY acknowledged, serial served, lag, last transfer. */
  secondaries: () => SecondaryStatus[];
  /** Resolves when every secondary serves `serial` or newer, or at the timeout. */
  awaitSerial: (serial: number, timeoutMs: number) => Promise<PropagationStatus>;
  /** Rotates the DNS cookie secrets and adopts them here at once; absent: through the store only. */
  rotateCookies?: (() => Promise<{ rotatedAt: number }>) | undefined;
  /** Where the live snapshot came from, for /healthz. */
  snapshotSource?:
    | (() => {
        source: SnapshotSource;
        storeReachable: boolean;
        lastKnownGoodProblem?: string;
      })
    | undefined;
  /** This instance's report written, then every instance's (snapshot/instances.ts). */
  instances?: (() => Promise<InstanceStatus[]>) | undefined;
  /** Holds changes beyond bounds; without it writes are not checked. */
  gate?: PublishGate | undefined;
}
