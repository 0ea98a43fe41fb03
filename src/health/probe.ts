// One probe of one node address: an HTTP(S) GET or a TCP connect, bounded by the spec's
// timeout. It reports success, latency and why it failed; what a result means (rise/fall,
// quorum) is decided elsewhere.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ProbeSpec } from '../config/schema.js';
import { errorMessage } from '../lib/errors.js';
import { probePort } from './probe-spec.js';

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  /** Why the probe failed; null when it succeeded. */
  error: string | null;
}

/** At most this much of a body is searched for `spec.body`. */
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
    const finish = (error: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup();
      resolve({ ok: error === null, latencyMs: performance.now() - started, error });
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
      method: 'GET',
      agent: false,
      headers: {
        host: hostHeader(name, port, tls),
        'user-agent': USER_AGENT,
        accept: '*/*',
        connection: 'close',
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
      const wanted = spec.body;
      if (wanted === null) {
        res.resume();
        return finish(null);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const check = (): boolean => Buffer.concat(chunks).toString('utf8').includes(wanted);
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (check()) finish(null);
      });
      res.once('end', () =>
        finish(check() ? null : `body does not contain ${JSON.stringify(wanted)}`),
      );
      res.once('error', (err) => finish(errorMessage(err)));
    });
    req.end();
  });
}
