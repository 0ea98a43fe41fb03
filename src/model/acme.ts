// What the store keeps for ACME: challenge TXT values with their expiry, acme-dns accounts,
// each domain's certificate state and the certificate itself in the layout the edge reads.

/** One challenge TXT value of `<name>.<acme zone>`, served until `expiresAt`. */
export interface AcmeTxt {
  /** Owner relative to the acme zone, lower-case: an acme-dns subdomain or `_acme-challenge.<domain>`. */
  name: string;
  value: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** An acme-dns registration (`cdn:acmedns:{username}`): only a slow hash of the password. */
export interface AcmeDnsAccount {
  username: string;
  /** scrypt$N$r$p$salt$hash, see acme/password.ts. */
  passwordHash: string;
  subdomain: string;
  allowfrom: string[];
  createdAt: string;
}

export type CertificateStatus = 'awaiting_cname' | 'pending' | 'valid' | 'failed';

/** A domain's certificate state (`cdn:acme:{domain}`), readable through the API. */
export interface AcmeDomainState {
  domain: string;
  /** acme-dns subdomain the customer's `_acme-challenge` CNAME must point at. */
  subdomain: string;
  /** acme-dns username whose account (`cdn:acmedns:{username}`) owns the subdomain. */
  username: string;
  wildcard: boolean;
  status: CertificateStatus;
  lastError: string | null;
  lastAttemptAt: string | null;
  /** ACME orders placed for this domain (counting every try). */
  orders: number;
  updatedAt: string;
}

/** `cdn:cert:{domain}` as a Redis hash: fields cert, key, issued_at, expires_at (ISO 8601). */
export interface StoredCertificate {
  /** Full chain PEM, leaf first. */
  cert: string;
  /** PKCS#8 PEM of the private key. */
  key: string;
  issuedAt: string;
  expiresAt: string;
}
