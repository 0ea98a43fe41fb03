// Publishes and withdraws challenge TXT values for every writer (the acme-dns API, RFC 2136
// UPDATE, the issuer): store write, then the snapshot that serves it, then optionally the
// propagation barrier. The store decides persistence; the snapshot decides what is served.
import type { Config } from '../config/schema.js';
import type { AcmeRepository } from './repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { ValidationError } from '../lib/errors.js';
import type { PropagationStatus } from '../xfr/master.js';

/** The hidden master's barrier: whether every secondary serves `serial` (xfr/master.ts). */
export type AwaitSerial = (serial: number, timeoutMs: number) => Promise<PropagationStatus>;

export interface TxtServiceDeps {
  config: Config;
  repos: { acme: AcmeRepository };
  snapshot: () => Snapshot;
  /** Resolves when a snapshot including every write made so far is live. */
  flush: () => Promise<void>;
  awaitSerial?: AwaitSerial | undefined;
}

export interface Published {
  serial: number;
  /** Present when a barrier was asked for: every secondary serves `serial`, or not (yet). */
  propagation?: PropagationStatus;
}

/**
 * RFC 8555 §8.4 values are 43 base64url characters; any other TXT up to 255 bytes of
 * printable ASCII without quotes or backslashes is accepted for non-ACME users.
 */
const TXT_VALUE = /^[\x21\x23-\x5b\x5d-\x7e ]{1,255}$/;

export function txtProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (!TXT_VALUE.test(value)) return 'must be 1–255 printable ASCII characters without " or \\';
  return undefined;
}

export class TxtService {
  constructor(private readonly deps: TxtServiceDeps) {}

  get zone(): string {
    return this.deps.config.acme.zone as string;
  }

  /** `<name>.<acme zone>` */
  fqdn(name: string): string {
    return `${name}.${this.zone}`;
  }

  async publish(name: string, value: string, barrier = false): Promise<Published> {
    const problem = txtProblem(value);
    if (problem) throw new ValidationError(`txt ${problem}`, 'txt');
    const expiresAt = Date.now() + this.deps.config.acme.txtLifetimeSec * 1000;
    await this.deps.repos.acme.putTxt({ name, value, expiresAt });
    return this.settle(barrier);
  }

  async withdraw(
    name: string,
    value?: string,
    barrier = false,
  ): Promise<Published & { removed: number }> {
    const removed = await this.deps.repos.acme.deleteTxt(name, value);
    return { removed, ...(await this.settle(barrier && removed > 0)) };
  }

  /** Live here first; then, when asked and possible, on every secondary. */
  async settle(barrier: boolean): Promise<Published> {
    await this.deps.flush();
    const serial = this.deps.snapshot().serial;
    const wait = this.deps.awaitSerial;
    if (!barrier || !wait) return { serial };
    const propagation = await wait(serial, this.deps.config.acme.propagation.timeoutMs);
    return { serial, propagation };
  }
}
