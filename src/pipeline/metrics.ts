// DNS query metrics, counted by the query handler (handler.ts). Label values are bounded:
// transport, rcode name, and a fixed set of qtypes.
import { Counter, type Registry } from 'prom-client';
import { rcodeName, typeName, RRType } from '../wire/constants.js';
import { tallyCounter, type Tally } from '../metrics/tally.js';
import { RRL_CLASS_NAMES } from '../lib/rrl.js';

const COMMON_TYPES = new Set<number>([
  RRType.A,
  RRType.AAAA,
  RRType.CNAME,
  RRType.NS,
  RRType.SOA,
  RRType.TXT,
  RRType.MX,
  RRType.SRV,
  RRType.CAA,
  RRType.ANY,
  RRType.AXFR,
  RRType.IXFR,
]);

export function dnsMetrics(registry: Registry) {
  const queries = tallyCounter({
    name: 'cirrus_dns_queries_total',
    help: 'DNS queries answered, by transport, qtype and rcode',
    labelNames: ['transport', 'qtype', 'rcode'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'cirrus_dns_dropped_total',
    help: 'Packets dropped without an answer (too short, or a response)',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'cirrus_dns_internal_errors_total',
    help: 'Queries answered SERVFAIL because a stage threw',
    registers: [registry],
  });
  const truncated = new Counter({
    name: 'cirrus_dns_truncated_total',
    help: 'UDP answers sent with TC because they did not fit',
    registers: [registry],
  });
  const rrlTotal = new Counter({
    name: 'cirrus_dns_rrl_total',
    help: 'UDP responses held back by response rate limiting, by action (slipped: sent with TC and nothing else; dropped) and response class',
    labelNames: ['action', 'class'] as const,
    registers: [registry],
  });
  // Bound children, [action][class]: the limited path counts without a label lookup.
  const rrl = (['slipped', 'dropped'] as const).map((action) =>
    RRL_CLASS_NAMES.map((cls) => rrlTotal.labels({ action, class: cls })),
  );
  const shed = new Counter({
    name: 'cirrus_dns_shed_total',
    help: 'UDP queries dropped unanswered because the process was behind (load shedding)',
    registers: [registry],
  });
  // Answer cache lookups (order.ts begin step 1): the exact cache, then on its miss the
  // decision-keyed one (decision-key.ts); a miss of both is answered by the pipeline.
  const cacheLookups = tallyCounter({
    name: 'cirrus_dns_answer_cache_lookups_total',
    help: 'Answer cache lookups by cache (exact: same client and query bytes; decision: same question, EDNS shape and location facts) and result',
    labelNames: ['cache', 'result'] as const,
    registers: [registry],
  });
  // One tally per label set, found by a string key (see metrics/tally.ts).
  const children = new Map<string, Tally>();
  return {
    exactHit: cacheLookups.tally({ cache: 'exact', result: 'hit' }),
    exactMiss: cacheLookups.tally({ cache: 'exact', result: 'miss' }),
    decisionHit: cacheLookups.tally({ cache: 'decision', result: 'hit' }),
    decisionMiss: cacheLookups.tally({ cache: 'decision', result: 'miss' }),
    /** rrl[0][class]: slipped, rrl[1][class]: dropped (class: lib/rrl.ts RrlClass). */
    rrl,
    shed,
    dropped,
    errors,
    truncated,
    countQuery(transport: string, qtype: number, rcode: number): void {
      this.queryCounter(transport, qtype, rcode).inc();
    },
    /** The tally of one label set, for callers that count the same kind often. */
    queryCounter(transport: string, qtype: number, rcode: number): Tally {
      const t = COMMON_TYPES.has(qtype) ? qtype : -1;
      const key = `${transport}|${t}|${rcode}`;
      let child = children.get(key);
      if (!child) {
        child = queries.tally({
          transport,
          qtype: t < 0 ? 'other' : typeName(t),
          rcode: rcodeName(rcode),
        });
        children.set(key, child);
      }
      return child;
    },
  };
}
export type DnsMetrics = ReturnType<typeof dnsMetrics>;
