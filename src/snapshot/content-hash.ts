// The content hash: the digest of everything that shapes the zone's content (config zone
// and GSLB sections, zone text, domains, nodes, policy, challenge values). Equal digests
// keep the serial; health counters and challenge expiries are not content.
import { createHash, type Hash } from 'node:crypto';
import { dnssecHashPart } from './signing.js';
import type { Config } from '../config/schema.js';
import type { StoreState } from './source.js';
import { BUILD_CHUNK, runSteps } from './steps.js';
import { acmeTxtRecords } from './zone-content.js';

/** Characters of domain JSON fed to the content hash at once. */
const HASH_BATCH = 16_384;

/**
 * The hash state right after the domains of one digest, with the domain objects it
 * covered: the next digest whose domains are the very same objects (a node, health or
 * policy change with the embedded store, which replaces a domain whole on every write and
 * never edits one in place) continues from a copy instead of serialising every domain
 * again. The digest is the same either way. Carried from one snapshot to the next.
 */
export interface HashCarry {
  readonly head: string;
  readonly domains: readonly object[];
  readonly hash: Hash;
}

export interface ContentDigest {
  readonly digest: string;
  /** Where the next digest may continue from (see HashCarry). */
  readonly carry: HashCarry;
}

/** Whether two lists hold the very same objects in the same order. */
export function sameObjects(a: readonly object[], b: readonly object[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Digest of everything that shapes the zone's content; equal digests keep the serial. */
export function contentHash(config: Config, state: StoreState, now = Date.now()): string {
  return runSteps(contentHashSteps(config, state, undefined, now)).digest;
}

/**
 * contentHash in steps: the digest of exactly JSON.stringify([zone, gslb, zone text,
 * domains, nodes, policy, (challenges)]), fed to the hash a chunk of domains at a time so
 * a large store can be hashed between queries. With `previous`, continues from its domains
 * when they are the same objects; only for states whose domain objects are never edited
 * in place, as the stores' are.
 */
export function* contentHashSteps(
  config: Config,
  state: StoreState,
  previous?: HashCarry,
  now = Date.now(),
): Generator<void, ContentDigest> {
  const head = `[${JSON.stringify(config.zone)},${JSON.stringify(config.gslb)},${JSON.stringify(state.zoneText ?? '')},[`;
  let h: Hash;
  let carry: HashCarry;
  if (previous && previous.head === head && sameObjects(previous.domains, state.domains)) {
    carry = previous;
    h = previous.hash.copy();
  } else {
    h = createHash('sha256');
    const domains = [...state.domains].sort((a, b) => (a.domain < b.domain ? -1 : 1));
    h.update(head);
    // The digest of a concatenation does not depend on how it is cut: one update per
    // HASH_BATCH characters or so costs less than one per domain, and a batch this small
    // stays in the young generation (a chunk's whole text would be a large object, left
    // for a full collection to free).
    let text = '';
    for (let i = 0; i < domains.length; i++) {
      const d = domains[i] as (typeof domains)[number];
      text +=
        (i ? ',' : '') +
        JSON.stringify([
          d.domain,
          d.label,
          d.origins,
          d.ttl ?? null,
          d.answers ?? null,
          d.chain ?? null,
          d.pools ?? null,
          d.lastResort ?? null,
          d.ecs ?? null,
          d.spread ?? null,
        ]);
      if (text.length >= HASH_BATCH) {
        h.update(text);
        text = '';
      }
      if (i % BUILD_CHUNK === BUILD_CHUNK - 1) yield;
    }
    h.update(text);
    carry = { head, domains: [...state.domains], hash: h.copy() };
  }
  // Health counters are not content; `active` and the mode are (they change the answers).
  const nodes = [...state.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((n) => [
      n.id,
      n.ipv4 ?? null,
      n.ipv6 ?? null,
      n.pool,
      n.weight,
      n.active,
      n.mode ?? 'auto',
    ]);
  h.update(`],${JSON.stringify(nodes)},${JSON.stringify(state.policy ?? null)}`);
  // Only the values are content: a refreshed expiry alone keeps the serial. Appended only
  // when present, so a zone without challenges hashes to the digest of the six parts alone.
  if (state.acmeTxt?.length)
    h.update(
      `,${JSON.stringify(config.acme.zone)},${JSON.stringify(config.acme.txtTtl)},${JSON.stringify(acmeTxtRecords(config, state.acmeTxt))}`,
    );
  // DNSSEC keys and the re-signing period: appended only when the zone is signed.
  const dnssec = dnssecHashPart(config, state.dnssecKeys, now);
  if (dnssec !== undefined) h.update(`,${dnssec}`);
  h.update(']');
  return { digest: h.digest('hex'), carry };
}
