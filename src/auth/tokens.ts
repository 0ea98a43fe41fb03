// API bearer tokens: high-entropy secrets shown once; only their SHA-256 is stored
// (`cdn:token_hash:{hash}`). A fast hash is enough for 256-bit random secrets: there is
// nothing to brute-force that a slow hash would protect.
import { createHash, randomBytes } from 'node:crypto';
import type { TokenRepository } from './token-repository.js';
import type { TokenRecord } from '../model/domain.js';

const PREFIX = 'cirrus_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createToken(
  repos: { tokens: TokenRepository },
  name: string,
  now = new Date(),
): Promise<{ token: string; record: TokenRecord }> {
  const id = randomBytes(6).toString('hex');
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = { id, name, createdAt: now.toISOString() };
  await repos.tokens.put(record, hashToken(token));
  return { token, record };
}

/** The token id for an Authorization header value, or undefined when it is not valid. */
export async function authenticate(
  repos: { tokens: TokenRepository },
  header: string | undefined,
): Promise<string | undefined> {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return undefined;
  return repos.tokens.idByHash(hashToken(m[1] as string));
}
