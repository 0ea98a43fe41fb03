// Where API tokens are kept: `cdn:tokens` (set), `cdn:token:{id}` (hash: id, name,
// created_at, hash) and `cdn:token_hash:{hash}` (the reverse index). Only hashes are stored.
import type { Store } from '../store/store.js';
import type { TokenRecord } from '../model/domain.js';

export const tokenKeys = {
  tokens: 'cdn:tokens',
  token: (id: string) => `cdn:token:${id}`,
  tokenHash: (hash: string) => `cdn:token_hash:${hash}`,
} as const;

function hashToToken(id: string, h: Record<string, string>): TokenRecord | undefined {
  if (Object.keys(h).length === 0) return undefined;
  return { id: h.id || id, name: h.name ?? '', createdAt: h.created_at ?? '' };
}

export class TokenRepository {
  constructor(private readonly store: Store) {}

  async put(token: TokenRecord, hash: string): Promise<void> {
    const previous = await this.store.hget(tokenKeys.token(token.id), 'hash');
    await this.store.write(
      [
        // A re-issued token must not leave its old secret able to authenticate.
        ...(previous !== undefined && previous !== hash
          ? [{ op: 'del' as const, key: tokenKeys.tokenHash(previous) }]
          : []),
        {
          op: 'hset',
          key: tokenKeys.token(token.id),
          fields: { id: token.id, name: token.name, created_at: token.createdAt, hash },
        },
        { op: 'sadd', key: tokenKeys.tokens, members: [token.id] },
        { op: 'set', key: tokenKeys.tokenHash(hash), value: token.id },
      ],
      { change: 'tokens' },
    );
  }

  /** Every token without its hash, sorted by id. */
  async list(): Promise<TokenRecord[]> {
    const ids = (await this.store.smembers(tokenKeys.tokens)).sort();
    const hashes = await this.store.hgetall(ids.map(tokenKeys.token));
    return ids.flatMap((id, i) => hashToToken(id, hashes[i] ?? {}) ?? []);
  }

  /** False when there was no such token. */
  async delete(id: string): Promise<boolean> {
    const hash = await this.store.hget(tokenKeys.token(id), 'hash');
    return this.store.write(
      [
        { op: 'srem', key: tokenKeys.tokens, members: [id] },
        { op: 'del', key: tokenKeys.token(id) },
        ...(hash !== undefined ? [{ op: 'del' as const, key: tokenKeys.tokenHash(hash) }] : []),
      ],
      { if: [{ key: tokenKeys.tokens, member: id, present: true }], change: 'tokens' },
    );
  }

  /**
   * A token unknown here may have just been stored by another process (`cirrus token create`
   * beside a running server on the embedded store): the store catches up before the token
   * is refused, so it is accepted at once rather than at the next poll.
   */
  async idByHash(hash: string): Promise<string | undefined> {
    const known = await this.lookup(hash);
    if (known !== undefined) return known;
    await this.store.catchUp();
    return this.lookup(hash);
  }

  private async lookup(hash: string): Promise<string | undefined> {
    const id = await this.store.get(tokenKeys.tokenHash(hash));
    if (id === undefined) return undefined;
    // Authentication trusts the token set, not a possibly stale reverse index.
    return (await this.store.sismember(tokenKeys.tokens, id)) ? id : undefined;
  }
}
