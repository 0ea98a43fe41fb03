// One probe of one node address: an HTTP(S) request (method, headers, accepted statuses,
// body text, regex or JSON-path assertions, certificate expiry) or a TCP connect, bounded by
// the spec's timeout. It reports success, latency, why it failed and what it warns about;
// what a result means (rise/fall, quorum) is decided elsewhere.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { ProbeSpec } from '../config/schema.js';
import { errorMessage } from '../lib/errors.js';
import { evalJsonPath, parseJsonPath } from '../lib/json-path.js';
import { probePort } from './probe-spec.js';

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  /** Why the probe failed; null when it succeeded. */
  error: string | null;
  /** What a passing probe warns about (a certificate expiring soon, certExpiry 'warn'). */
  warning: string | null;
}

const DAY_MS = 86_400_000;

/**
 * The certificate check of an https probe: null when fine (or not asked for), else the
 * message. `validTo` is the peer certificate's notAfter as Node's getPeerCertificate gives it.
 */
export function certExpiryProblem(
  validTo: string | undefined,
  days: number | null,
  now = Date.now(),
): string | null {
  if (days === null) return null;
  const at = validTo ? Date.parse(validTo) : NaN;
  if (Number.isNaN(at)) return 'no peer certificate expiry to check';
  const left = (at - now) / DAY_MS;
  if (left > days) return null;
  const when = new Date(at).toISOString();
  return left <= 0
    ? `certificate expired at ${when}`
    : `certificate expires in ${left.toFixed(1)} days (${when}), within ${days}`;
}

/** Why `body` fails the spec's body assertions, or null when it passes them all. */
export function bodyProblem(spec: ProbeSpec, body: string): string | null {
  if (spec.body !== null && !body.includes(spec.body))
    return `body does not contain ${JSON.stringify(spec.body)}`;
  if (spec.bodyRegex !== null && !new RegExp(spec.bodyRegex).test(body))
    return `body does not match /${spec.bodyRegex}/`;
  if (spec.json !== null) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return 'body is not JSON';
    }
    const { found, value } = evalJsonPath(doc, parseJsonPath(spec.json.path));
    if (!found) return `${spec.json.path} not found in the body`;
    if (value !== spec.json.equals)
      return `${spec.json.path} is ${truncate(JSON.stringify(value) ?? 'undefined')}, expected ${JSON.stringify(spec.json.equals)}`;
  }
  return null;
}

const truncate = (s: string): string => (s.length > 64 ? `${s.slice(0, 61)}...` : s);
const hasBodyCheck = (spec: ProbeSpec): boolean =>
  spec.body !== null || spec.bodyRegex !== null || spec.json !== null;

/** At most this much of a body is searched and parsed. */
const MAX_BODY_BYTES = 64 * 1024;
const USER_AGENT = 'cirrus-gslb-health/1';

/** `host:port` as a Host header writes it: IPv6 in brackets, default ports left out. */
function hostHeader(host: string, port: number, tls: boolean): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === (tls ? 443 : 80) ? h : `${h}:${port}`;
}

/**
 * Probes `address` (an IP) as `spec` says. Never throws: every failure, including the
 * timeout, is a result with `ok: false`. `signal` aborts a probe in flight (checker stop).
 */
export function runProbe(
  address: string,
  spec: ProbeSpec,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const started = performance.now();
  const port = probePort(spec);
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let cleanup = (): void => {};
    let warning: string | null = null;
    const finish = (error: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup();
      resolve({
        ok: error === null,
        latencyMs: performance.now() - started,
        error,
        warning: error === null ? warning : null,
      });
    };
    const timer = setTimeout(() => finish(`timeout after ${spec.timeoutMs} ms`), spec.timeoutMs);
    const onAbort = (): void => finish('probe aborted');
    if (signal?.aborted) return finish('probe aborted');
    signal?.addEventListener('abort', onAbort, { once: true });

    if (spec.type === 'tcp') {
      const sock = connect({ host: address, port });
      cleanup = () => sock.destroy();
      sock.once('connect', () => finish(null));
      sock.once('error', (err) => finish(errorMessage(err)));
      return;
    }
    if (spec.type === 'none') return finish('probe type none is not probed');

    const tls = spec.type === 'https';
    const name = spec.host ?? address;
    const req = (tls ? httpsRequest : httpRequest)({
      host: address,
      port,
      path: spec.path,
      method: spec.method,
      agent: false,
      headers: {
        'user-agent': USER_AGENT,
        accept: '*/*',
        ...spec.headers,
        // Host and connection are the probe's: Host names the edge as `host` says.
        host: hostHeader(name, port, tls),
        connection: 'close',
        ...(spec.method === 'POST' || spec.method === 'PUT' ? { 'content-length': '0' } : {}),
      },
      // SNI carries host names only (RFC 6066 §3); verification, when asked for, checks
      // the certificate against `host` (or the address when there is none).
      ...(tls
        ? {
            rejectUnauthorized: spec.tlsVerify,
            ...(isIP(name) ? {} : { servername: name }),
          }
        : {}),
    });
    cleanup = () => req.destroy();
    req.once('error', (err) => finish(errorMessage(err)));
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (!spec.expect.includes(status)) {
        res.resume();
        return finish(`status ${status}, expected ${spec.expect.join('/')}`);
      }
      if (tls) {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        const problem = certExpiryProblem(cert.valid_to, spec.certExpiryDays);
        if (problem !== null && spec.certExpiry === 'down') {
          res.resume();
          return finish(problem);
        }
        warning = problem;
      }
      if (!hasBodyCheck(spec)) {
        res.resume();
        return finish(null);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const judge = (): void => finish(bodyProblem(spec, Buffer.concat(chunks).toString('utf8')));
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk.subarray(0, MAX_BODY_BYTES - size));
        size += chunk.length;
        // A text match can pass before the end; a JSON body is judged whole (or at the cap).
        if (size >= MAX_BODY_BYTES) judge();
        else if (
          spec.json === null &&
          bodyProblem(spec, Buffer.concat(chunks).toString('utf8')) === null
        )
          finish(null);
      });
      res.once('end', judge);
      res.once('error', (err) => finish(errorMessage(err)));
    });
    req.end();
  });
}
