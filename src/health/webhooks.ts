// Health event webhooks: each configured URL gets every event as a JSON POST, in order, one
// delivery at a time, retried with exponential backoff, from a bounded queue (the oldest
// waiting delivery is dropped when it is full). Each attempt is signed:
//   X-Cirrus-Timestamp: <unix seconds>
//   X-Cirrus-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
// so a receiver checks the body and the time it was sent (verifySignature). What an event
// holds and when one is made is events.ts's business.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { errorMessage } from '../lib/errors.js';

export const SIGNATURE_HEADER = 'x-cirrus-signature';
export const TIMESTAMP_HEADER = 'x-cirrus-timestamp';
const MAX_BACKOFF_MS = 300_000;

/** `sha256=<hex>` over `${timestamp}.${body}`. */
export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: true when `signature` is the HMAC of this body and timestamp, and
 * the timestamp is within `toleranceSec` of `now` (so a captured delivery cannot be replayed
 * later). Compares in constant time.
 */
export function verifySignature(
  secret: string,
  timestamp: string | undefined,
  body: string,
  signature: string | undefined,
  toleranceSec = 300,
  now = Date.now(),
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(now / 1000 - ts) > toleranceSec) return false;
  const want = Buffer.from(sign(secret, ts, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export interface WebhookTarget {
  url: string;
  secret: string;
  timeoutMs: number;
}

export interface WebhookOptions {
  queue: number;
  attempts: number;
  backoffMs: number;
  log: Logger;
  /** Deliveries by result: ok, retry (an attempt failed, another follows), failed, dropped. */
  deliveries: Counter<'hook' | 'result'>;
  /** The label of this hook in metrics and logs: its index in the config (URLs may hold secrets). */
  label: string;
}

interface Delivery {
  id: string;
  body: string;
}

/** One webhook URL: its queue and the loop delivering it. create → start → stop. */
export class WebhookSender {
  private readonly queue: Delivery[] = [];
  private abort = new AbortController();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly target: WebhookTarget,
    private readonly opts: WebhookOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  /** Aborts the attempt in flight; what is still queued is dropped (not persisted). */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** Deliveries waiting (the one in flight included until it is done). */
  get pending(): number {
    return this.queue.length;
  }

  enqueue(id: string, body: string): void {
    if (!this.running) return;
    if (this.queue.length >= this.opts.queue) {
      const dropped = this.queue.splice(1, 1)[0] ?? this.queue.shift();
      this.opts.deliveries.inc({ hook: this.opts.label, result: 'dropped' });
      this.opts.log.warn(
        { hook: this.opts.label, event: dropped?.id },
        'webhook queue full: dropped',
      );
    }
    this.queue.push({ id, body });
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const next = this.queue[0];
      if (!next) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      await this.deliver(next);
      // The head may have been dropped meanwhile only if it was not the one in flight.
      if (this.queue[0] === next) this.queue.shift();
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const { attempts, backoffMs, deliveries, label, log } = this.opts;
    for (let attempt = 1; attempt <= attempts && this.running; attempt++) {
      const error = await this.attempt(d, attempt);
      if (error === null) {
        deliveries.inc({ hook: label, result: 'ok' });
        return;
      }
      if (!this.running) return;
      if (attempt === attempts) {
        deliveries.inc({ hook: label, result: 'failed' });
        log.warn({ hook: label, event: d.id, attempts, error }, 'webhook delivery failed');
        return;
      }
      deliveries.inc({ hook: label, result: 'retry' });
      const wait = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempt - 1));
      log.debug({ hook: label, event: d.id, attempt, error, wait }, 'webhook attempt failed');
      await this.sleep(wait);
    }
  }

  /** One POST; null when the receiver answered 2xx, else why not. */
  private async attempt(d: Delivery, attempt: number): Promise<string | null> {
    const ts = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'cirrus-gslb-health/1',
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: sign(this.target.secret, ts, d.body),
          'x-cirrus-event': d.id,
          'x-cirrus-attempt': String(attempt),
        },
        body: d.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.target.timeoutMs)]),
      });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 300 ? null : `status ${res.status}`;
    } catch (err) {
      return errorMessage(err);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}
