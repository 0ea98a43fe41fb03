// Where ACME keeps its state: challenge TXT values (`cdn:acmetxt`, sorted set of JSON
// [name, value] scored by expiry in ms), acme-dns registrations (`cdn:acmedns:{user}`, hash),
// a domain's certificate state (`cdn:acme:{domain}`, JSON), the certificate the edge loads
// (`cdn:cert:{domain}`, hash), the account and certificate keys, and issuance locks.
import type { Store } from '../store/store.js';
import type { Logger } from '../lib/logger.js';
import type { AcmeDnsAccount, AcmeDomainState, AcmeTxt, StoredCertificate } from '../model/acme.js';
import { edgeChannels, edgeKeys } from '../edge/keys.js';

export const acmeKeys = {
  acmeTxt: 'cdn:acmetxt',
  acmeDnsAccount: (username: string) => `cdn:acmedns:${username}`,
  acmeState: (domain: string) => `cdn:acme:${domain}`,
  acmeLock: (domain: string) => `cdn:acme:lock:${domain}`,
  cert: edgeKeys.cert,
  acmeAccountKey: 'cdn:acmeacct:global',
  acmeCertKey: (domain: string) => `cdn:acmecertkey:${domain}`,
} as const;

const CERT_READ_BATCH = 500;

function certificateOf(h: Record<string, string> = {}): StoredCertificate | undefined {
  if (!h.cert || !h.key) return undefined;
  return { cert: h.cert, key: h.key, issuedAt: h.issued_at ?? '', expiresAt: h.expires_at ?? '' };
}

function parseTxtMember(member: string): [string, string] | undefined {
  try {
    const v: unknown = JSON.parse(member);
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string')
      return [v[0], v[1]];
  } catch {
    // A member another writer added in another form is ignored.
  }
  return undefined;
}

export class AcmeRepository {
  constructor(
    private readonly store: Store,
    private readonly logger?: Logger | undefined,
  ) {}

  /**
   * Adds a challenge TXT value or moves the expiry of one already there. A content change:
   * kind 'acme', announced to every instance.
   */
  async putTxt(txt: AcmeTxt): Promise<void> {
    await this.store.write(
      [
        {
          op: 'zadd',
          key: acmeKeys.acmeTxt,
          member: JSON.stringify([txt.name, txt.value]),
          score: txt.expiresAt,
        },
      ],
      { change: 'acme' },
    );
  }

  /** Removes one value of `name`, or all of them when `value` is undefined; returns how many. */
  async deleteTxt(name: string, value?: string): Promise<number> {
    // Looked up first so deleting nothing announces nothing.
    const members = (await this.store.zrange(acmeKeys.acmeTxt))
      .map((e) => e.member)
      .filter((m) => {
        const parsed = parseTxtMember(m);
        return parsed?.[0] === name && (value === undefined || parsed[1] === value);
      });
    if (members.length === 0) return 0;
    await this.store.write([{ op: 'zrem', key: acmeKeys.acmeTxt, members }], { change: 'acme' });
    return members.length;
  }

  /** Every value still unexpired at `now` (ms), sorted by name then value; drops expired ones. */
  async listTxt(now: number): Promise<AcmeTxt[]> {
    const all = await this.store.zrange(acmeKeys.acmeTxt);
    const out: AcmeTxt[] = [];
    let expired = false;
    for (const { member, score } of all) {
      if (score <= now) {
        expired = true;
        continue;
      }
      const parsed = parseTxtMember(member);
      if (parsed) out.push({ name: parsed[0], value: parsed[1], expiresAt: score });
    }
    if (expired) await this.store.write([{ op: 'zremMax', key: acmeKeys.acmeTxt, max: now }]);
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.value.localeCompare(b.value));
  }

  async putDnsAccount(account: AcmeDnsAccount): Promise<void> {
    await this.store.write([
      {
        op: 'hset',
        key: acmeKeys.acmeDnsAccount(account.username),
        fields: {
          password_hash: account.passwordHash,
          subdomain: account.subdomain,
          allowfrom: JSON.stringify(account.allowfrom),
          created_at: account.createdAt,
        },
      },
    ]);
  }

  async getDnsAccount(username: string): Promise<AcmeDnsAccount | undefined> {
    const [h = {}] = await this.store.hgetall([acmeKeys.acmeDnsAccount(username)]);
    if (!h.password_hash || !h.subdomain) return undefined;
    let allowfrom: string[] = [];
    try {
      const parsed: unknown = JSON.parse(h.allowfrom ?? '[]');
      if (Array.isArray(parsed)) allowfrom = parsed.filter((c) => typeof c === 'string');
    } catch {
      // An unreadable list allows nothing rather than everything.
      allowfrom = ['0.0.0.0/32'];
    }
    return {
      username,
      passwordHash: h.password_hash,
      subdomain: h.subdomain,
      allowfrom,
      createdAt: h.created_at ?? '',
    };
  }

  async getState(domain: string): Promise<AcmeDomainState | undefined> {
    const key = acmeKeys.acmeState(domain);
    const [value] = await this.store.getJson([key]);
    if (value !== undefined) return value as AcmeDomainState;
    if (await this.store.exists(key)) this.logger?.warn({ domain }, 'unreadable ACME state record');
    return undefined;
  }

  async putState(state: AcmeDomainState): Promise<void> {
    await this.store.write([
      { op: 'setJson', key: acmeKeys.acmeState(state.domain), value: state },
    ]);
  }

  async getCertificate(domain: string): Promise<StoredCertificate | undefined> {
    const [h = {}] = await this.store.hgetall([acmeKeys.cert(domain)]);
    return certificateOf(h);
  }

  /** getCertificate for each of `domains`, in order, one store read per 500 domains. */
  async getCertificates(domains: readonly string[]): Promise<(StoredCertificate | undefined)[]> {
    const out: (StoredCertificate | undefined)[] = [];
    for (let i = 0; i < domains.length; i += CERT_READ_BATCH) {
      const hashes = await this.store.hgetall(
        domains.slice(i, i + CERT_READ_BATCH).map((d) => acmeKeys.cert(d)),
      );
      for (const h of hashes) out.push(certificateOf(h));
    }
    return out;
  }

  /**
   * One hash write, so the edge never reads a chain of one issuance with the key of another,
   * and in the same step the `cdn:cert:updated` publish that makes every edge drop its copy.
   */
  async putCertificate(domain: string, cert: StoredCertificate): Promise<void> {
    await this.store.write(
      [
        {
          op: 'hset',
          key: acmeKeys.cert(domain),
          fields: {
            cert: cert.cert,
            key: cert.key,
            issued_at: cert.issuedAt,
            expires_at: cert.expiresAt,
          },
        },
      ],
      { publish: [{ channel: edgeChannels.cert, message: domain }] },
    );
  }

  /**
   * The ACME account key or a domain's certificate key: the stored PEM, after storing `pem`
   * if none was (first wins).
   */
  async claimKey(which: { account: true } | { domain: string }, pem: string): Promise<string> {
    const key = 'domain' in which ? acmeKeys.acmeCertKey(which.domain) : acmeKeys.acmeAccountKey;
    if (
      await this.store.write([{ op: 'set', key, value: pem }], { if: [{ key, equals: undefined }] })
    )
      return pem;
    return (await this.store.get(key)) ?? pem;
  }

  /** One issuance per domain: the lease `cdn:acme:lock:{domain}`. */
  async acquireCertLock(domain: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.store.acquireLock(acmeKeys.acmeLock(domain), owner, ttlMs);
  }

  async releaseCertLock(domain: string, owner: string): Promise<void> {
    await this.store.releaseLock(acmeKeys.acmeLock(domain), owner);
  }
}
