// Edge stand-ins for health tests: a small HTTP server bound on a loopback address
// (Linux routes all of 127/8 to lo), which can be stopped and started again on its port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; fails with `what` after `ms`. Returns the time taken. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 6000) {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
  return Date.now() - t0;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** An edge stand-in: an HTTP server on `ip` that can be stopped and started on the same port. */
export class Edge {
  hits = 0;
  hosts: string[] = [];
  port = 0;
  private server: Server | undefined;
  constructor(
    readonly ip: string,
    public handler: Handler = (_req, res) => res.end('ok'),
  ) {}
  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.hits++;
      this.hosts.push(req.headers.host ?? '');
      this.handler(req, res);
    });
    server.keepAliveTimeout = 100;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.ip, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
