// acme-dns accounts: registration (random username, password and subdomain, as acme-dns
// makes them) and the check of an update's credentials, source address and subdomain.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AcmeRepository } from './repository.js';
import type { AcmeDnsAccount } from '../model/acme.js';
import { hashPassword, verifyPassword } from './password.js';
import { CidrSet, parseCidr } from '../lib/cidr.js';

export interface Registered {
  account: AcmeDnsAccount;
  /** Shown once, never stored. */
  password: string;
}

/** acme-dns's 40-character password alphabet (base64url). */
const newPassword = (): string => randomBytes(30).toString('base64url');

/** Throws on the first entry that is not a CIDR (or a bare address). */
export function checkAllowfrom(list: readonly string[]): string[] {
  return list.map((c) => {
    parseCidr(c.includes('/') ? c : c.includes(':') ? `${c}/128` : `${c}/32`);
    return c.includes('/') ? c : c.includes(':') ? `${c}/128` : `${c}/32`;
  });
}

export async function registerAccount(
  repos: { acme: AcmeRepository },
  allowfrom: readonly string[],
  subdomain = randomUUID(),
): Promise<Registered> {
  const password = newPassword();
  const account: AcmeDnsAccount = {
    username: randomUUID(),
    passwordHash: await hashPassword(password),
    subdomain,
    allowfrom: checkAllowfrom(allowfrom),
    createdAt: new Date().toISOString(),
  };
  await repos.acme.putDnsAccount(account);
  return { account, password };
}

/** The account when user, key and source address all check out. */
export async function authenticateAccount(
  repos: { acme: AcmeRepository },
  username: string | undefined,
  password: string | undefined,
  address: string,
): Promise<AcmeDnsAccount | undefined> {
  if (!username || !password || !/^[0-9a-f-]{36}$/i.test(username)) return undefined;
  const account = await repos.acme.getDnsAccount(username.toLowerCase());
  if (!account || !(await verifyPassword(password, account.passwordHash))) return undefined;
  if (account.allowfrom.length > 0) {
    const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (!new CidrSet(account.allowfrom).has(ip)) return undefined;
  }
  return account;
}
