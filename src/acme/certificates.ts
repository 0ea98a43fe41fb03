// Certificate issuance and renewal over DNS-01 with acme-client, answering the challenges
// from our own acme zone. One issuance per domain at a time across instances (the
// `cdn:acme:lock:{domain}` lock, plus one promise per domain in this process), at most
// acme.issuer.concurrency at once here, retried with doubling backoff. Only a finished
// order writes `cdn:cert:{domain}`: a failure records its error and keeps the old certificate.
import { X509Certificate, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import nodeCron, { type ScheduledTask } from 'node-cron';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { AcmeRepository } from './repository.js';
import type { DomainRepository } from '../domains/repository.js';
import type { Logger } from '../lib/logger.js';
import { ConfigError, NotFoundError, errorMessage } from '../lib/errors.js';
import { hash32 } from '../gslb/rendezvous.js';
import type { AcmeDomainState, StoredCertificate } from '../model/acme.js';
import type { TxtService } from './txt-service.js';
import { registerAccount } from './dns-accounts.js';
import { challengeName, checkCname } from './cname-check.js';
import { acmeMetrics, type AcmeMetrics } from './metrics.js';

export interface CertificateServiceDeps {
  config: Config;
  repos: { acme: AcmeRepository; domains: DomainRepository };
  txt: TxtService;
  logger: Logger;
  registry: Registry;
}

export interface CertificateView {
  domain: string;
  status: AcmeDomainState['status'];
  names: string[];
  cname: { name: string; target: string };
  issuedAt: string | null;
  expiresAt: string | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  orders: number;
}

export interface RequestResult {
  view: CertificateView;
  /** Set when this request registered the domain's acme-dns account: shown once. */
  acmeDns?: { username: string; password: string; subdomain: string; fulldomain: string };
}

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a certificate expiring at `expiresAt` is due for renewal at `now`. */
export function renewalDue(expiresAt: string, now: number, beforeDays: number): boolean {
  const at = Date.parse(expiresAt);
  return !Number.isFinite(at) || at - now <= beforeDays * DAY_MS;
}

/** A stable delay in [0, spreadMs) per domain, so due renewals do not start together. */
export function spreadDelay(domain: string, spreadMs: number): number {
  return spreadMs <= 0 ? 0 : hash32(domain) % spreadMs;
}

export class CertificateService {
  private readonly limit: LimitFunction;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly metrics: AcmeMetrics;
  private readonly owner = randomUUID();
  private task: ScheduledTask | undefined;
  private stopped = false;

  constructor(private readonly deps: CertificateServiceDeps) {
    this.limit = pLimit(deps.config.acme.issuer.concurrency);
    this.metrics = acmeMetrics(deps.registry);
  }

  private get issuer(): Config['acme']['issuer'] {
    return this.deps.config.acme.issuer;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const { caBundle, renewCron } = this.issuer;
    if (caBundle) {
      let pem: string;
      try {
        pem = readFileSync(caBundle, 'utf8');
      } catch (err) {
        throw new ConfigError(
          `acme.issuer.caBundle: cannot read ${caBundle}: ${errorMessage(err)}`,
          'acme.issuer.caBundle',
        );
      }
      // acme-client's own axios instance only: the rest of the process keeps the system trust.
      acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, pem] });
    }
    if (!nodeCron.validate(renewCron))
      throw new ConfigError(
        `acme.issuer.renewCron: "${renewCron}" is not a cron expression`,
        'acme.issuer.renewCron',
      );
    this.task = nodeCron.createTask(renewCron, () => void this.renewDue().catch(() => undefined), {
      name: 'acme-renewal',
    });
    void this.task.start();
    await this.loadExpiries();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.task) await this.task.destroy();
    this.task = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight.values()]);
  }

  private async loadExpiries(): Promise<void> {
    const names = await this.deps.repos.domains.names();
    const certs = await this.deps.repos.acme.getCertificates(names);
    names.forEach((domain, i) => {
      const cert = certs[i];
      if (cert) this.metrics.expiries.set(domain, Date.parse(cert.expiresAt));
    });
  }

  async view(domain: string): Promise<CertificateView> {
    const state = await this.deps.repos.acme.getState(domain);
    if (!state) throw new NotFoundError(`no certificate was requested for ${domain}`);
    return this.toView(state, await this.deps.repos.acme.getCertificate(domain));
  }

  private toView(state: AcmeDomainState, cert: StoredCertificate | undefined): CertificateView {
    return {
      domain: state.domain,
      status: state.status,
      names: namesOf(state),
      cname: { name: challengeName(state.domain), target: this.deps.txt.fqdn(state.subdomain) },
      issuedAt: cert?.issuedAt ?? null,
      expiresAt: cert?.expiresAt ?? null,
      lastError: state.lastError,
      lastAttemptAt: state.lastAttemptAt,
      orders: state.orders,
    };
  }

  /**
   * Asks for a certificate: registers the domain's acme-dns name on first use, checks the
   * customer's CNAME, and starts an order in the background when it is right. `force` orders
   * even when the stored certificate is not due.
   */
  async request(
    domain: string,
    opts: { wildcard?: boolean | undefined; force?: boolean | undefined } = {},
  ): Promise<RequestResult> {
    const { repos } = this.deps;
    if (!(await repos.domains.get(domain)))
      throw new NotFoundError(`domain ${domain} is not managed (POST /api/v1/domains first)`);
    let state = await repos.acme.getState(domain);
    let acmeDns: RequestResult['acmeDns'];
    if (!state) {
      const { account, password } = await registerAccount(repos, []);
      acmeDns = {
        username: account.username,
        password,
        subdomain: account.subdomain,
        fulldomain: this.deps.txt.fqdn(account.subdomain),
      };
      state = {
        domain,
        subdomain: account.subdomain,
        username: account.username,
        wildcard: opts.wildcard ?? false,
        status: 'awaiting_cname',
        lastError: null,
        lastAttemptAt: null,
        orders: 0,
        updatedAt: new Date().toISOString(),
      };
    } else if (opts.wildcard !== undefined) state.wildcard = opts.wildcard;

    const cert = await repos.acme.getCertificate(domain);
    const due =
      opts.force ||
      !cert ||
      renewalDue(cert.expiresAt, Date.now(), this.issuer.renewBeforeDays) ||
      !sameNames(cert, namesOf(state));
    const check = await checkCname(
      domain,
      this.deps.txt.fqdn(state.subdomain),
      this.issuer.resolvers,
    );
    if (!check.ok) {
      state = {
        ...state,
        status: cert ? state.status : 'awaiting_cname',
        lastError: check.problem ?? null,
      };
    } else if (due) {
      state = { ...state, status: 'pending', lastError: null };
    }
    state.updatedAt = new Date().toISOString();
    await repos.acme.putState(state);
    if (check.ok && due) void this.issue(domain).catch(() => undefined);
    return { view: this.toView(state, cert), ...(acmeDns ? { acmeDns } : {}) };
  }

  /** One issuance per domain in this process: a second caller shares the first one's run. */
  issue(domain: string): Promise<void> {
    const running = this.inflight.get(domain);
    if (running) return running;
    const run = this.limit(() => this.runLocked(domain)).finally(() =>
      this.inflight.delete(domain),
    );
    this.inflight.set(domain, run);
    return run;
  }

  private async runLocked(domain: string): Promise<void> {
    const { repos, logger } = this.deps;
    const ttl = this.issuer.lockTtlMs;
    if (!(await repos.acme.acquireCertLock(domain, this.owner, ttl))) {
      logger.info({ domain }, 'another instance is issuing this certificate');
      return;
    }
    const renew = setInterval(
      () => void repos.acme.acquireCertLock(domain, this.owner, ttl).catch(() => undefined),
      Math.floor(ttl / 3),
    );
    try {
      await this.runWithRetries(domain);
    } finally {
      clearInterval(renew);
      await repos.acme.releaseCertLock(domain, this.owner).catch(() => undefined);
    }
  }

  private async runWithRetries(domain: string): Promise<void> {
    const { repos, logger } = this.deps;
    const { attempts, backoffMs } = this.issuer;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      const state = await repos.acme.getState(domain);
      if (!state) return;
      const update = async (patch: Partial<AcmeDomainState>) =>
        repos.acme.putState({ ...state, ...patch, updatedAt: new Date().toISOString() });
      const check = await checkCname(
        domain,
        this.deps.txt.fqdn(state.subdomain),
        this.issuer.resolvers,
      );
      let error: string;
      if (!check.ok) {
        error = check.problem ?? 'CNAME check failed';
      } else {
        await update({
          status: 'pending',
          lastAttemptAt: new Date().toISOString(),
          orders: state.orders + 1,
        });
        try {
          const cert = await this.order({ ...state, orders: state.orders + 1 });
          await repos.acme.putCertificate(domain, cert);
          this.metrics.expiries.set(domain, Date.parse(cert.expiresAt));
          this.metrics.orders.inc({ result: 'valid' });
          const fresh = (await repos.acme.getState(domain)) ?? state;
          await repos.acme.putState({
            ...fresh,
            status: 'valid',
            lastError: null,
            updatedAt: new Date().toISOString(),
          });
          logger.info({ domain, expiresAt: cert.expiresAt }, 'certificate issued');
          return;
        } catch (err) {
          this.metrics.orders.inc({ result: 'failed' });
          error = `ACME order failed: ${errorMessage(err)}`;
        }
      }
      const last = attempt === attempts;
      logger.warn(
        { domain, attempt, error },
        last ? 'certificate not issued' : 'retrying certificate',
      );
      const fresh = (await repos.acme.getState(domain)) ?? state;
      const hasCert = (await repos.acme.getCertificate(domain)) !== undefined;
      await repos.acme.putState({
        ...fresh,
        // A domain with a good certificate keeps serving it; the state says the renewal failed.
        // Between tries the state stays pending, with the error that made us retry.
        status: !last ? 'pending' : !check.ok && !hasCert ? 'awaiting_cname' : 'failed',
        lastError: error,
        updatedAt: new Date().toISOString(),
      });
      if (!last) await sleep(backoffMs * 2 ** (attempt - 1));
    }
  }

  /** One ACME order, answered through our own acme zone. */
  private async order(state: AcmeDomainState): Promise<StoredCertificate> {
    const { repos, txt, logger } = this.deps;
    const accountKey = await repos.acme.claimKey(
      { account: true },
      (await acme.crypto.createPrivateEcdsaKey()).toString(),
    );
    // Renewals reuse the key: pinned or already deployed keys stay valid.
    const certKey = await repos.acme.claimKey(
      { domain: state.domain },
      (await acme.crypto.createPrivateEcdsaKey()).toString(),
    );
    const { pollMs } = this.issuer;
    const client = new acme.Client({
      directoryUrl: this.issuer.directory,
      accountKey,
      backoffMin: pollMs,
      backoffMax: pollMs * 8,
      backoffAttempts: 12,
    });
    // The account key is shared by every order: find its account first, since re-sending
    // newAccount for an existing one makes acme-client send an update the CA may refuse.
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      await client.createAccount({
        termsOfServiceAgreed: true,
        ...(this.issuer.email ? { contact: [`mailto:${this.issuer.email}`] } : {}),
      });
    }
    const names = namesOf(state);
    const [, csr] = await acme.crypto.createCsr(
      { commonName: state.domain, altNames: names },
      certKey,
    );
    const barrier = this.deps.config.acme.propagation.wait;
    const chain = await client.auto({
      csr,
      ...(this.issuer.email ? { email: this.issuer.email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ['dns-01'],
      // We serve the record ourselves and checked the CNAME; acme-client's own check would
      // go through the system resolver instead of the one configured here.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'dns-01') throw new Error(`unexpected challenge ${challenge.type}`);
        const done = await txt.publish(state.subdomain, keyAuthorization, barrier);
        if (done.propagation && !done.propagation.complete)
          logger.warn({ domain: state.domain, propagation: done.propagation }, 'secondaries lag');
      },
      challengeRemoveFn: async (_authz, _challenge, keyAuthorization) => {
        await txt.withdraw(state.subdomain, keyAuthorization);
      },
    });
    const leaf = new X509Certificate(chain);
    return {
      cert: chain,
      key: certKey,
      issuedAt: new Date(leaf.validFrom).toISOString(),
      expiresAt: new Date(leaf.validTo).toISOString(),
    };
  }

  /**
   * The renewal scan (node-cron): every domain with a certificate state whose certificate
   * is due, or that has none yet, gets an order, each after its own spread delay.
   */
  async renewDue(now = Date.now()): Promise<string[]> {
    const { repos } = this.deps;
    const due: string[] = [];
    for (const domain of await repos.domains.names()) {
      const state = await repos.acme.getState(domain);
      if (!state) continue;
      const cert = await repos.acme.getCertificate(domain);
      if (cert && !renewalDue(cert.expiresAt, now, this.issuer.renewBeforeDays)) continue;
      due.push(domain);
    }
    for (const domain of due) {
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          if (!this.stopped) void this.issue(domain).catch(() => undefined);
        },
        spreadDelay(domain, this.issuer.renewSpreadSec * 1000),
      );
      timer.unref();
      this.timers.add(timer);
    }
    return due;
  }
}

function namesOf(state: AcmeDomainState): string[] {
  return state.wildcard ? [state.domain, `*.${state.domain}`] : [state.domain];
}

function sameNames(cert: StoredCertificate, names: readonly string[]): boolean {
  try {
    const san = new X509Certificate(cert.cert).subjectAltName ?? '';
    const have = san
      .split(', ')
      .map((s) => s.replace(/^DNS:/, ''))
      .sort();
    return JSON.stringify(have) === JSON.stringify([...names].sort());
  } catch {
    return false;
  }
}
