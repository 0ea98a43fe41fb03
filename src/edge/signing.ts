// Signed URLs as the edges check them (edge/lua/cirrus/signing.lua): the token
// `exp=<unix>~kid=<id>[~ip=<prefix>][~path=<prefix>]~hmac=<hex>` where hmac is
// HMAC-SHA256(secret, the text before "~hmac=", plus "~url=<decoded path>" when the token
// names no path prefix). Both sides must produce the same bytes.
import { createHmac } from 'node:crypto';
import { ValidationError } from '../lib/errors.js';
import type { DomainSigning } from '../model/edge.js';

export interface SignOptions {
  /** The request path as the edge sees it ($uri: percent-decoded, no query). */
  path: string;
  expires: number;
  clientPrefix?: string;
  pathPrefix?: string;
}

export function signToken(key: { id: string; secret: string }, o: SignOptions): string {
  let body = `exp=${o.expires}~kid=${key.id}`;
  if (o.clientPrefix !== undefined) body += `~ip=${encodeURIComponent(o.clientPrefix)}`;
  if (o.pathPrefix !== undefined) body += `~path=${encodeURIComponent(o.pathPrefix)}`;
  const msg = o.pathPrefix === undefined ? `${body}~url=${o.path}` : body;
  return `${body}~hmac=${createHmac('sha256', key.secret).update(msg).digest('hex')}`;
}

export interface SignedUrl {
  url: string;
  token: string;
  /** `name=value` for the domain's cookie, for players that cannot carry a query token. */
  cookie: string;
  keyId: string;
  expires: string;
}

/** Signs `url` with the domain's first key; the token replaces any earlier one in the query. */
export function signUrl(
  signing: DomainSigning,
  url: string,
  opts: { ttl?: number; clientPrefix?: string; pathPrefix?: string; now?: number },
): SignedUrl {
  const key = signing.keys[0];
  if (!key) throw new ValidationError('signing.keys is empty', 'signing.keys');
  const u = new URL(url);
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    throw new ValidationError('url: the path is not valid percent-encoding', 'body.url');
  }
  if (opts.pathPrefix !== undefined && !path.startsWith(opts.pathPrefix))
    throw new ValidationError(
      `pathPrefix: ${opts.pathPrefix} does not cover the URL's path ${path}`,
      'body.pathPrefix',
    );
  const expires = Math.floor((opts.now ?? Date.now()) / 1000) + (opts.ttl ?? 300);
  const token = signToken(key, {
    path,
    expires,
    ...(opts.clientPrefix !== undefined ? { clientPrefix: opts.clientPrefix } : {}),
    ...(opts.pathPrefix !== undefined ? { pathPrefix: opts.pathPrefix } : {}),
  });
  const param = signing.param ?? 'token';
  u.searchParams.delete(param);
  const q = u.search ? `${u.search}&` : '?';
  const signed = `${u.origin}${u.pathname}${q}${param}=${encodeURIComponent(token)}${u.hash}`;
  return {
    url: signed,
    token,
    cookie: `${signing.cookie ?? 'cirrus_token'}=${encodeURIComponent(token)}`,
    keyId: key.id,
    expires: new Date(expires * 1000).toISOString(),
  };
}
