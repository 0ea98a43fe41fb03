// A real Cirrus edge for integration tests: Debian's nginx + ngx_lua running edge/ from a
// throwaway prefix built by edge/setup-prefix.sh, on free loopback ports; stop() ends the
// master it spawned (QUIT, then KILL) and removes the prefix.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis-server.js';
import { until } from './edge-server.js';

const EDGE_DIR = fileURLToPath(new URL('../../edge/', import.meta.url));
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';

export interface RunningEdge {
  prefix: string;
  ip: string;
  http: number;
  https: number;
  admin: number;
  errorLog(): string;
  stop(): Promise<void>;
}

export interface EdgeOptions {
  redisUrl: string;
  node: string;
  originCa?: string;
  /** CA of the Redis server certificate, for a rediss:// URL. */
  redisCa?: string;
  /** nginx `resolver` for origins given by host name, e.g. Cirrus's own DNS port. */
  resolver?: string;
  env?: Record<string, string>;
  /** Loopback address of the HTTP and TLS listeners (several edges, one port each). */
  ip?: string;
  httpPort?: number;
}

/**
 * Starts an edge; when its admin port never answers (once in CI: nothing in nginx's logs,
 * likely a free port taken by another test's process between the probe and nginx's bind),
 * tries once more on fresh ports, saying so on stderr with what the first attempt saw.
 */
export async function startEdge(opts: EdgeOptions): Promise<RunningEdge> {
  try {
    return await startEdgeOnce(opts);
  } catch (err) {
    if (!String(err).includes('edge /healthz') || opts.httpPort !== undefined) throw err;
    process.stderr.write(`startEdge: retrying on fresh ports after: ${String(err)}\n`);
    return startEdgeOnce(opts);
  }
}

async function startEdgeOnce(opts: EdgeOptions): Promise<RunningEdge> {
  const prefix = mkdtempSync(join(tmpdir(), 'cirrus-edge-'));
  const ip = opts.ip ?? '127.0.0.1';
  const [http, https, admin, hop] = [
    opts.httpPort ?? (await freePort()),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  execFileSync('sh', [join(EDGE_DIR, 'setup-prefix.sh'), prefix], {
    env: {
      ...process.env,
      EDGE_HTTP_LISTEN: `${ip}:${http}`,
      EDGE_HTTPS_LISTEN: `${ip}:${https}`,
      EDGE_ADMIN_LISTEN: `127.0.0.1:${admin}`,
      EDGE_ORIGIN_LISTEN: `127.0.0.1:${hop}`,
      // Workers must read the 0700 temp prefix; a non-root master ignores the line.
      EDGE_USER: 'root',
      ...(opts.originCa ? { EDGE_ORIGIN_CA: opts.originCa } : {}),
      ...(opts.redisCa ? { EDGE_REDIS_CA: opts.redisCa } : {}),
      ...(opts.resolver ? { EDGE_RESOLVER: opts.resolver } : {}),
    },
  });
  const child: ChildProcess = spawn(NGINX, ['-p', `${prefix}/`, '-c', 'conf/nginx.conf'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      REDIS_URL: opts.redisUrl,
      CDN_NODE: opts.node,
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => {
    try {
      return readFileSync(join(prefix, 'logs/error.log'), 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  const edge: RunningEdge = {
    prefix,
    ip,
    http,
    https,
    admin,
    errorLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
  let lastProbe = 'no probe yet';
  try {
    await until(
      'edge /healthz',
      async () => {
        const r = await get(admin, 'localhost', '/healthz').catch((e: unknown) => {
          lastProbe = String(e);
          return null;
        });
        if (r) lastProbe = `HTTP ${r.status}`;
        return r?.status === 200;
      },
      10_000,
    ).catch((err: unknown) => {
      const state = child.exitCode ?? child.signalCode ?? 'running';
      throw new Error(
        `${String(err)} (admin port ${admin}, last probe: ${lastProbe}, nginx ${state})`,
      );
    });
    // The subscriber is up when the gauge says so (the first events must not be lost).
    await until('edge subscriber', async () =>
      (await get(admin, 'localhost', '/metrics')).body.includes('cirrus_edge_pubsub_connected 1'),
    );
  } catch (err) {
    await edge.stop();
    throw new Error(`${String(err)}\n${errorLog()}`);
  }
  return edge;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The server certificate's subject CN (HTTPS only). */
  peerCn?: string;
}

/** One HTTP/1.1 request to 127.0.0.1:port (or tls.ip) with the given Host; the body read whole. */
export function get(
  port: number,
  host: string,
  path: string,
  headers: Record<string, string> = {},
  tls?: { ca?: string; servername?: string; method?: string; ip?: string; plain?: boolean },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const base = {
      host: tls?.ip ?? '127.0.0.1',
      port,
      path,
      method: tls?.method ?? 'GET',
      headers: { host, ...headers },
      agent: false as const,
    };
    const onRes = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const sock = res.socket as TLSSocket;
        const peer =
          typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : null;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          ...(peer?.subject ? { peerCn: String(peer.subject.CN) } : {}),
        });
      });
      res.on('error', reject);
    };
    const req =
      tls && !tls.plain
        ? httpsRequest(
            {
              ...base,
              servername: tls.servername ?? host,
              ...(tls.ca ? { ca: tls.ca } : { rejectUnauthorized: false }),
            },
            onRes,
          )
        : httpRequest(base, onRes);
    req.on('error', reject);
    req.end();
  });
}

/** A self-signed certificate (or one signed by `ca`) for `name`, made with openssl. */
export function makeCert(
  dir: string,
  name: string,
  ca?: { cert: string; key: string },
): { cert: string; key: string; certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}-${Date.now()}-${Math.random()}.key`);
  const certFile = keyFile.replace(/\.key$/, '.pem');
  const subj = ['-subj', `/CN=${name}`];
  if (!ca) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        ...subj,
        '-addext',
        `subjectAltName=DNS:${name}`,
        ...(name.endsWith('-ca') ? ['-addext', 'basicConstraints=critical,CA:TRUE'] : []),
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
  } else {
    const csr = `${keyFile}.csr`;
    const caCert = `${keyFile}.ca.pem`;
    const caKey = `${keyFile}.ca.key`;
    const ext = `${keyFile}.ext`;
    execFileSync('sh', [
      '-c',
      `printf '%s' "$1" > "$2"; printf '%s' "$3" > "$4"; printf 'subjectAltName=DNS:%s\\n' "$5" > "$6"`,
      'sh',
      ca.cert,
      caCert,
      ca.key,
      caKey,
      name,
      ext,
    ]);
    execFileSync(
      'openssl',
      [
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        ...subj,
        '-keyout',
        keyFile,
        '-out',
        csr,
      ],
      { stdio: 'ignore' },
    );
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        ext,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
  }
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
  };
}
