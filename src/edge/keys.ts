// The Redis keys and channels the edges read, beside the store's (src/store/keys.ts).
export const edgeKeys = {
  /** A node's override of its domains' edge settings (JSON). */
  override: (node: string) => `cdn:edge:${node}`,
  /** A domain's certificate: HASH cert (full chain PEM), key (PEM), issued_at, expires_at. */
  cert: (domain: string) => `cdn:cert:${domain}`,
} as const;

export const edgeChannels = {
  /** Purge requests (JSON: id, urls, prefixes, domains). */
  purge: 'cdn:purge',
  /** Prewarm requests (JSON: id, urls [{domain, path}], concurrency). */
  prewarm: 'cdn:prewarm',
  /** A node id (or `*`) whose override changed. */
  override: 'cdn:edge:updated',
  /** A domain (or `*`) whose certificate changed. */
  cert: 'cdn:cert:updated',
} as const;
