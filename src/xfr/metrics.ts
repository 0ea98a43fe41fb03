// Hidden-master metrics: transfers served, NOTIFYs sent, and each secondary's serial and
// lag. Secondary names come from the config and the API (a handful), so they are labels.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface XfrMetrics {
  requests: Counter<'kind' | 'result'>;
  notifies: Counter<'secondary' | 'result'>;
  secondarySerial: Gauge<'secondary'>;
  secondaryLag: Gauge<'secondary'>;
  notifyAcked: Gauge<'secondary'>;
  journalEntries: Gauge;
}

export function xfrMetrics(registry: Registry): XfrMetrics {
  return {
    requests: new Counter({
      name: 'cirrus_xfr_requests_total',
      help: 'Zone transfer requests by how they were answered (axfr, ixfr, ixfr-full, ixfr-current, ixfr-udp) and result',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    notifies: new Counter({
      name: 'cirrus_notify_total',
      help: 'NOTIFY messages sent, by secondary and result (acked, timeout, error)',
      labelNames: ['secondary', 'result'],
      registers: [registry],
    }),
    secondarySerial: new Gauge({
      name: 'cirrus_secondary_serial',
      help: 'SOA serial each secondary serves (polled over DNS)',
      labelNames: ['secondary'],
      registers: [registry],
    }),
    secondaryLag: new Gauge({
      name: 'cirrus_secondary_lag_seconds',
      help: 'How long the secondary has been behind our serial (0 when current)',
      labelNames: ['secondary'],
      registers: [registry],
    }),
    notifyAcked: new Gauge({
      name: 'cirrus_secondary_notify_acked_timestamp_seconds',
      help: 'When the secondary last acknowledged a NOTIFY',
      labelNames: ['secondary'],
      registers: [registry],
    }),
    journalEntries: new Gauge({
      name: 'cirrus_xfr_journal_entries',
      help: 'Serial changes kept in the IXFR journal',
      registers: [registry],
    }),
  };
}
