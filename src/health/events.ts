// Health events: a node's state transition, as the health leader decides it, goes to the
// Redis stream `cdn:health:events` (XADD MAXLEN ~ health.events.streamMaxLen; the embedded
// store keeps a bounded list) and to every configured webhook (webhooks.ts). Only the leader
// emits (leader.ts calls emit after it wrote the new state), so each transition is sent
// once however many instances probe the node; a transition decided while the store was
// unreachable is not written, and a leader change loses at most the events in its queues.
import { randomUUID } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';
import { WebhookSender } from './webhooks.js';

export const HEALTH_EVENTS_KEY = 'cdn:health:events';

export type NodeState = 'unknown' | 'up' | 'down';

/** One transition, as the stream entry's fields and the webhook body's JSON hold it. */
export interface HealthEvent {
  /** Unique per event: the webhook's X-Cirrus-Event, for receivers that deduplicate. */
  id: string;
  node: string;
  pool: string;
  previous: NodeState;
  state: NodeState;
  /** Whether the node is eligible for answers after the transition. */
  active: boolean;
  /** The last probe error behind a down, the vote count behind an up. */
  reason: string;
  /** ISO time the leader decided it. */
  time: string;
  /** The leader that decided it. */
  instance: string;
  votes: { up: number; down: number; unknown: number; needed: number };
}

export type HealthEventInput = Omit<HealthEvent, 'id'>;

/** The stream entry's fields: every value a string, votes as JSON. */
export function eventFields(e: HealthEvent): Record<string, string> {
  return {
    id: e.id,
    node: e.node,
    pool: e.pool,
    previous: e.previous,
    state: e.state,
    active: e.active ? '1' : '0',
    reason: e.reason,
    time: e.time,
    instance: e.instance,
    votes: JSON.stringify(e.votes),
  };
}

function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export interface HealthEventsDeps {
  config: Config;
  store: Store;
  logger: Logger;
  registry: Registry;
}

/** The event sink: create → start → stop (stop drops what the webhooks still hold). */
export class HealthEvents {
  private readonly hooks: WebhookSender[];
  private readonly pending = new Set<Promise<void>>();
  private readonly log: Logger;
  private readonly emitted: Counter<'to'>;

  constructor(private readonly deps: HealthEventsDeps) {
    const ev = deps.config.health.events;
    this.log = deps.logger.child({ component: 'health-events' });
    const registers = [deps.registry];
    this.emitted = once(
      deps.registry,
      'cirrus_health_events_total',
      () =>
        new Counter({
          name: 'cirrus_health_events_total',
          help: 'Health transition events emitted by the leader, by new state',
          labelNames: ['to'] as const,
          registers,
        }),
    );
    const deliveries = once(
      deps.registry,
      'cirrus_health_webhook_deliveries_total',
      () =>
        new Counter({
          name: 'cirrus_health_webhook_deliveries_total',
          help: 'Webhook deliveries by hook (its index in health.events.webhooks) and result (ok, retry, failed, dropped)',
          labelNames: ['hook', 'result'] as const,
          registers,
        }),
    );
    this.hooks = ev.webhooks.map(
      (w, i) =>
        new WebhookSender(w, {
          queue: ev.queue,
          attempts: ev.attempts,
          backoffMs: ev.backoffMs,
          log: this.log,
          deliveries,
          label: String(i),
        }),
    );
  }

  start(): void {
    for (const h of this.hooks) h.start();
  }

  async stop(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await Promise.all(this.hooks.map((h) => h.stop()));
  }

  /** Appends to the stream (in the background) and queues a delivery per webhook. */
  emit(input: HealthEventInput): HealthEvent {
    const event: HealthEvent = { id: randomUUID(), ...input };
    this.emitted.inc({ to: event.state });
    const maxLen = this.deps.config.health.events.streamMaxLen;
    if (maxLen > 0) {
      const p = this.deps.store
        .write([{ op: 'xadd', key: HEALTH_EVENTS_KEY, fields: eventFields(event), maxLen }])
        .then(
          () => undefined,
          (err: unknown) =>
            this.log.warn({ err: errorMessage(err), node: event.node }, 'health event not stored'),
        );
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
    if (this.hooks.length > 0) {
      const body = JSON.stringify(event);
      for (const h of this.hooks) h.enqueue(event.id, body);
    }
    return event;
  }
}
