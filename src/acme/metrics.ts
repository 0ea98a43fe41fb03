// The issuer's metrics. The domain label is bounded by the managed domains (never a qname).
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AcmeMetrics {
  orders: Counter<'result'>;
  /** Domain → expiry (ms); read at scrape time so the gauge counts down between issuances. */
  expiries: Map<string, number>;
}

export function acmeMetrics(registry: Registry): AcmeMetrics {
  const expiries = new Map<string, number>();
  const orders = new Counter({
    name: 'cirrus_acme_orders_total',
    help: 'ACME orders placed by this instance, by result',
    labelNames: ['result'],
    registers: [registry],
  });
  // Both results exist from the start, so dashboards and alerts read 0 before any order.
  for (const result of ['valid', 'failed']) orders.inc({ result }, 0);
  new Gauge({
    name: 'cirrus_cert_expiry_seconds',
    help: 'Seconds until each stored certificate expires (negative once expired)',
    labelNames: ['domain'],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const [domain, at] of expiries) this.set({ domain }, Math.round((at - now) / 1000));
    },
  });
  return { orders, expiries };
}
