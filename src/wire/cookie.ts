// DNS cookies on the server side: the COOKIE option read and classified (RFC 7873 §4,
// §5.2), server cookies made and checked the interoperable way (RFC 9018: version 1, a
// timestamp and SipHash-2-4, so every instance sharing the secrets accepts the others'
// cookies), and the response option written. What to do with a verdict is
// `cookieAction`; where the secrets come from and when they rotate is the caller's.
import { randomBytes } from 'node:crypto';
import { siphash24Into, SIPHASH_KEY_BYTES } from '../lib/siphash.js';

/** EDNS option code of COOKIE (RFC 7873 §4). */
export const COOKIE_OPTION = 10;
/** Extended RCODE BADCOOKIE (RFC 7873 §8): 7 in the header, 1 in the OPT's upper bits. */
export const BADCOOKIE = 23;
export const CLIENT_COOKIE_BYTES = 8;
/** Server cookie lengths RFC 7873 §4 allows. */
export const SERVER_COOKIE_MIN_BYTES = 8;
export const SERVER_COOKIE_MAX_BYTES = 32;
/** An RFC 9018 server cookie: version, 3 reserved, 4 timestamp, 8 hash. */
export const SERVER_COOKIE_BYTES = 16;
/** RFC 9018 §4.1: the version this module makes and checks. */
export const COOKIE_VERSION = 1;

/**
 * RFC 9018 §4.3: a server cookie is accepted from at most an hour after its timestamp
 * and at most five minutes before it (clock skew between the instances of an anycast
 * set), and answered with a fresh one once it is more than half an hour old.
 */
export const COOKIE_MAX_AGE_SECONDS = 3600;
export const COOKIE_MAX_FUTURE_SECONDS = 300;
export const COOKIE_REFRESH_AGE_SECONDS = 1800;

/**
 * What a request's cookie amounts to (RFC 7873 §5.2.1–§5.2.5):
 * - `none`: no COOKIE option (§5.2.1), the request is processed as if cookies did not exist;
 * - `malformed`: an option length RFC 7873 §4 does not allow (§5.2.2), FORMERR;
 * - `clientOnly`: a client cookie alone (§5.2.3);
 * - `invalidServer`: a server cookie this server did not make for this client, or one
 *   outside the time window (§5.2.4, handled as §5.2.3);
 * - `valid`: a server cookie made by one of the secrets for this client cookie and
 *   address, within the window (§5.2.5).
 */
export type CookieVerdict = 'none' | 'malformed' | 'clientOnly' | 'invalidServer' | 'valid';

/**
 * The secrets shared by every instance answering for the same store: new cookies are made
 * with `current`; a cookie made with `previous` is still valid, so a rotation does not
 * invalidate cookies handed out by the instances that have not seen it yet.
 */
export interface CookieSecrets {
  readonly current: Uint8Array;
  readonly previous?: Uint8Array | undefined;
}

/** A new 16-byte secret from the system's cryptographically secure generator. */
export function newCookieSecret(): Buffer {
  return randomBytes(SIPHASH_KEY_BYTES);
}

/**
 * The secrets after a rotation: `next` becomes current, the current one previous, the
 * previous one is dropped. Cookies made before the rotation stay valid until the next one,
 * so rotations must be more than the hour a cookie lives apart (RFC 9018 §5).
 */
export function rotateCookieSecrets(
  secrets: CookieSecrets,
  next: Uint8Array = newCookieSecret(),
): CookieSecrets {
  if (next.length !== SIPHASH_KEY_BYTES) throw new RangeError('a cookie secret is 16 bytes');
  return { current: next, previous: secrets.current };
}

export interface CookieCheck {
  readonly verdict: CookieVerdict;
  /** The client cookie (a view into the request), for every verdict but none/malformed. */
  readonly client?: Uint8Array;
  /** The server cookie as received (a view into the request), when there was one. */
  readonly server?: Uint8Array;
  /**
   * For `valid`: whether the response carries a new server cookie rather than the one
   * received (older than half an hour, made with the previous secret, or reserved bytes
   * set). Every other verdict that gets a response gets a new one.
   */
  readonly refresh: boolean;
}

const NO_COOKIE: CookieCheck = { verdict: 'none', refresh: false };
const MALFORMED: CookieCheck = { verdict: 'malformed', refresh: false };

/**
 * Whether an option length is one RFC 7873 §4 allows: a client cookie alone (8), or a
 * client cookie and a server cookie of 8 to 32 bytes (16 to 40).
 */
export function cookieLengthAllowed(length: number): boolean {
  return (
    length === CLIENT_COOKIE_BYTES ||
    (length >= CLIENT_COOKIE_BYTES + SERVER_COOKIE_MIN_BYTES &&
      length <= CLIENT_COOKIE_BYTES + SERVER_COOKIE_MAX_BYTES)
  );
}

const NOT_FOUND = -1;
const OVERRUN_OR_TWICE = -2;

/**
 * Offset of the COOKIE option's header in the option list buf[from, to), NOT_FOUND, or
 * OVERRUN_OR_TWICE when two COOKIE options are present (a response cannot echo both) or
 * the list overruns its end.
 */
function locateCookie(buf: Uint8Array, from: number, to: number): number {
  let found = NOT_FOUND;
  let pos = from;
  while (pos < to) {
    if (pos + 4 > to) return OVERRUN_OR_TWICE;
    const code = ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
    const end = pos + 4 + (((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number));
    if (end > to) return OVERRUN_OR_TWICE;
    if (code === COOKIE_OPTION) {
      if (found !== NOT_FOUND) return OVERRUN_OR_TWICE;
      found = pos;
    }
    pos = end;
  }
  return found;
}

/**
 * The COOKIE option's data in an OPT record's RDATA (a list of {code, length, data}),
 * `undefined` when there is none, or `'malformed'` when two COOKIE options are present
 * or the list overruns the RDATA.
 */
export function findCookieOption(rdata: Uint8Array): Uint8Array | undefined | 'malformed' {
  const at = locateCookie(rdata, 0, rdata.length);
  if (at === NOT_FOUND) return undefined;
  if (at === OVERRUN_OR_TWICE) return 'malformed';
  const length = ((rdata[at + 2] as number) << 8) | (rdata[at + 3] as number);
  return rdata.subarray(at + 4, at + 4 + length);
}

/**
 * Where the COOKIE option (its 4-byte header included) sits in `msg` when an OPT record
 * (RFC 6891 §6.1.2: root owner, type 41) starts at `optAt`: [start, end) offsets, or
 * undefined when there is no such OPT record, it has no COOKIE option, or its options
 * are malformed. The answer cache leaves these bytes out of its key, so the cookie,
 * which changes per client and over time, does not cost it its hits.
 */
export function cookieOptionSpan(
  msg: Uint8Array,
  optAt: number,
): { start: number; end: number } | undefined {
  if (optAt + 11 > msg.length || msg[optAt] !== 0) return undefined;
  if (msg[optAt + 1] !== 0 || msg[optAt + 2] !== 41) return undefined;
  const rdStart = optAt + 11;
  const rdEnd = rdStart + (((msg[optAt + 9] as number) << 8) | (msg[optAt + 10] as number));
  if (rdEnd > msg.length) return undefined;
  const at = locateCookie(msg, rdStart, rdEnd);
  if (at < 0) return undefined;
  return { start: at, end: at + 4 + (((msg[at + 2] as number) << 8) | (msg[at + 3] as number)) };
}

// The hash input (RFC 9018 §4.4): client cookie | version | reserved | timestamp | address,
// 20 octets for an IPv4 client and 32 for an IPv6 one. One scratch buffer per size: the
// functions below are synchronous, so no two calls share one.
const input4 = Buffer.alloc(20);
const input16 = Buffer.alloc(32);

/**
 * Writes the RFC 9018 hash of a server cookie for `client` (8 bytes) from `address`
 * (4 or 16 octets) into out[offset..offset+8): SipHash-2-4 under `secret` of the client
 * cookie, the 8 header octets at header[headerOffset..] (version, reserved, timestamp)
 * and the address.
 */
function cookieHash(
  secret: Uint8Array,
  client: Uint8Array,
  header: Uint8Array,
  headerOffset: number,
  address: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  if (secret.length !== SIPHASH_KEY_BYTES) throw new RangeError('a cookie secret is 16 bytes');
  const input = address.length === 4 ? input4 : address.length === 16 ? input16 : undefined;
  if (!input) throw new RangeError('a client address is 4 or 16 octets');
  input.set(client, 0);
  for (let i = 0; i < 8; i++) input[8 + i] = header[headerOffset + i] as number;
  input.set(address, 16);
  siphash24Into(secret, input, out, offset);
}

/**
 * Writes the RFC 9018 server cookie for `client` (8 bytes) from `address` (4 or 16
 * octets) at `timestamp` (seconds since the epoch, taken mod 2^32) into `out` at `offset`:
 * version 1, three zero reserved octets, the timestamp, the 8-byte hash. Returns `out`.
 */
export function writeServerCookie(
  client: Uint8Array,
  address: Uint8Array,
  secret: Uint8Array,
  timestamp: number,
  out: Uint8Array,
  offset = 0,
): Uint8Array {
  if (client.length !== CLIENT_COOKIE_BYTES) throw new RangeError('a client cookie is 8 bytes');
  const ts = timestamp >>> 0;
  out[offset] = COOKIE_VERSION;
  out[offset + 1] = 0;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  out[offset + 4] = ts >>> 24;
  out[offset + 5] = (ts >>> 16) & 0xff;
  out[offset + 6] = (ts >>> 8) & 0xff;
  out[offset + 7] = ts & 0xff;
  cookieHash(secret, client, out, offset, address, out, offset + 8);
  return out;
}

/** The RFC 9018 server cookie for `client` from `address` at `timestamp`, 16 new bytes. */
export function serverCookie(
  client: Uint8Array,
  address: Uint8Array,
  secret: Uint8Array,
  timestamp: number,
): Buffer {
  const out = Buffer.alloc(SERVER_COOKIE_BYTES);
  writeServerCookie(client, address, secret, timestamp, out, 0);
  return out;
}

const computed = Buffer.alloc(8);

/** Whether the last 8 octets of `server` are its hash under `secret`. */
function madeWith(
  secret: Uint8Array,
  client: Uint8Array,
  server: Uint8Array,
  address: Uint8Array,
): boolean {
  cookieHash(secret, client, server, 0, address, computed, 0);
  for (let i = 0; i < 8; i++) if (computed[i] !== server[8 + i]) return false;
  return true;
}

/**
 * Classifies the COOKIE option data of a request (`undefined` when it had none) from
 * `address` (4 or 16 octets) at `now` (seconds since the epoch). A server cookie is valid
 * when it is version 1 and 16 octets (RFC 9018 §4.1), its timestamp is in the window of
 * §4.3 by serial number arithmetic (RFC 1982, so the 2106 wrap of the 32-bit field is
 * harmless), and its hash, computed with the reserved octets as received, matches the
 * current or the previous secret.
 */
export function checkCookie(
  option: Uint8Array | undefined,
  address: Uint8Array,
  secrets: CookieSecrets,
  now: number,
): CookieCheck {
  if (option === undefined) return NO_COOKIE;
  if (!cookieLengthAllowed(option.length)) return MALFORMED;
  const client = option.subarray(0, CLIENT_COOKIE_BYTES);
  if (option.length === CLIENT_COOKIE_BYTES)
    return { verdict: 'clientOnly', client, refresh: true };
  const server = option.subarray(CLIENT_COOKIE_BYTES);
  const invalid: CookieCheck = { verdict: 'invalidServer', client, server, refresh: true };
  if (server.length !== SERVER_COOKIE_BYTES || server[0] !== COOKIE_VERSION) return invalid;
  const timestamp =
    (((server[4] as number) << 24) |
      ((server[5] as number) << 16) |
      ((server[6] as number) << 8) |
      (server[7] as number)) >>>
    0;
  const age = ((now >>> 0) - timestamp) | 0;
  if (age > COOKIE_MAX_AGE_SECONDS || age < -COOKIE_MAX_FUTURE_SECONDS) return invalid;
  const reservedSet = server[1] !== 0 || server[2] !== 0 || server[3] !== 0;
  if (madeWith(secrets.current, client, server, address))
    return {
      verdict: 'valid',
      client,
      server,
      refresh: age > COOKIE_REFRESH_AGE_SECONDS || reservedSet,
    };
  if (secrets.previous && madeWith(secrets.previous, client, server, address))
    return { verdict: 'valid', client, server, refresh: true };
  return invalid;
}

/** Bytes of the COOKIE option a response carries: code, length, client and server cookie. */
export const RESPONSE_COOKIE_OPTION_BYTES = 4 + CLIENT_COOKIE_BYTES + SERVER_COOKIE_BYTES;

/**
 * Writes the response's COOKIE option (code, length and data) at out[offset] and returns
 * the offset after it, or returns `offset` unchanged when the request's cookie gets none
 * (`none`, `malformed`). A valid cookie that needs no refresh is echoed as received
 * (RFC 7873 §5.2.5 (a)); otherwise the client cookie is sent back with a new server
 * cookie made with the current secret at `now` (§5.2.3, §5.2.5 (b), RFC 9018 §4.3).
 * The option is written per response, never cached with an answer.
 */
export function writeResponseCookie(
  check: CookieCheck,
  address: Uint8Array,
  secrets: CookieSecrets,
  now: number,
  out: Uint8Array,
  offset: number,
): number {
  const client = check.client;
  if (!client || check.verdict === 'none' || check.verdict === 'malformed') return offset;
  out[offset] = 0;
  out[offset + 1] = COOKIE_OPTION;
  out[offset + 2] = 0;
  out[offset + 3] = CLIENT_COOKIE_BYTES + SERVER_COOKIE_BYTES;
  out.set(client, offset + 4);
  const serverAt = offset + 4 + CLIENT_COOKIE_BYTES;
  if (check.verdict === 'valid' && !check.refresh && check.server) out.set(check.server, serverAt);
  else writeServerCookie(client, address, secrets.current, now, out, serverAt);
  return offset + RESPONSE_COOKIE_OPTION_BYTES;
}

/** The response's COOKIE option as new bytes, or undefined when it carries none. */
export function responseCookie(
  check: CookieCheck,
  address: Uint8Array,
  secrets: CookieSecrets,
  now: number,
): Buffer | undefined {
  const out = Buffer.alloc(RESPONSE_COOKIE_OPTION_BYTES);
  return writeResponseCookie(check, address, secrets, now, out, 0) === 0 ? undefined : out;
}

/**
 * What the query path does with a verdict:
 * - `formerr`: reject with FORMERR (RFC 7873 §5.2.2);
 * - `badcookie`: answer BADCOOKIE with a new cookie and nothing else;
 * - `answer`: process the request as usual, with the response cookie if there is one.
 */
export type CookieAction = 'answer' | 'formerr' | 'badcookie';

export interface CookieContext {
  /** Received over TCP (or another transport that proves the source address). */
  readonly tcp: boolean;
  /** QDCOUNT is 0: a request for a cookie alone (RFC 7873 §5.4). */
  readonly noQuestion: boolean;
  /**
   * Server policy for UDP requests without a valid server cookie: BADCOOKIE rather than
   * an answer (§5.2.3 option 2, a policy for times of attack). Off, the
   * request is answered (option 3), which costs a resolver without cookies nothing.
   */
  readonly demandCookie: boolean;
}

/**
 * RFC 7873 §5.2 and §5.4 as one decision. BADCOOKIE is sent in exactly two cases: a
 * cookie-only request (no question) whose server cookie is invalid (§5.4), and, when the
 * server demands cookies, a UDP request without a valid server cookie (§5.2.3 option 2,
 * which §5.2.4 applies to invalid ones). TCP requests are answered (§5.2.3: the handshake
 * already proves the address, and BADCOOKIE there could loop), and so is a cookie-only
 * request with just a client cookie (§5.4: NOERROR, with a new server cookie).
 */
export function cookieAction(verdict: CookieVerdict, context: CookieContext): CookieAction {
  switch (verdict) {
    case 'none':
    case 'valid':
      return 'answer';
    case 'malformed':
      return 'formerr';
    case 'clientOnly':
      if (context.noQuestion || context.tcp) return 'answer';
      return context.demandCookie ? 'badcookie' : 'answer';
    case 'invalidServer':
      if (context.noQuestion) return 'badcookie';
      if (context.tcp) return 'answer';
      return context.demandCookie ? 'badcookie' : 'answer';
  }
}
