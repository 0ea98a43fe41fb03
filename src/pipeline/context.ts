// Per-query context: the decoded query, the snapshot it is answered from (fixed for the
// whole query, even if a new one is published meanwhile) and what earlier stages found.
import type { Query } from '../dns/query.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { ZoneData } from '../zone/zone-data.js';
import type { Outcome } from './outcome.js';

export interface PipelineSettings {
  /** version.bind answer as TXT rdata, encoded once at start-up; null refuses it. */
  readonly version: Buffer | null;
  /** id.server / hostname.bind answer as TXT rdata; null refuses it. */
  readonly identity: Buffer | null;
}

export interface QueryContext {
  readonly query: Query;
  readonly snapshot: Snapshot;
  readonly settings: PipelineSettings;
  /** Set by the authority stage: the zone the query falls in. */
  zone: ZoneData | undefined;
}

export type Stage = (ctx: QueryContext) => Outcome;
