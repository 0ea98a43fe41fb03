// Which PROXY protocol v2 headers the DNS listeners accept (`dns.proxyProtocol.allow`): a
// header from a listed source replaces the client's address and port for everything after
// it (location, ACLs, rate limiting, whoami); a header from any other source, or one that
// does not parse, is dropped (UDP) or closes the connection (TCP). Traffic without a header
// is served as it is, from any source (a balancer's own health checks, direct clients).
import { Counter, type Registry } from 'prom-client';
import { CidrSet } from '../lib/cidr.js';
import type { Handler } from '../pipeline/handler.js';
import { parseProxyV2 } from '../wire/proxy-v2.js';

/** Whether `address` may send PROXY headers; nobody when the list is empty. */
export function proxyAllowed(allow: readonly string[]): (address: string) => boolean {
  if (allow.length === 0) return () => false;
  const set = new CidrSet(allow);
  return (address) => set.has(address);
}

/** Headers refused, by transport: a balancer missing from the list shows here. */
export function proxyRefusedCounter(registry: Registry): Counter<'transport'> {
  const counter = new Counter({
    name: 'cirrus_dns_proxy_refused_total',
    help: 'PROXY v2 headers refused (source not in dns.proxyProtocol.allow, or malformed), by transport',
    labelNames: ['transport'] as const,
    registers: [registry],
  });
  for (const transport of ['udp', 'tcp']) counter.inc({ transport }, 0);
  return counter;
}

/** A UDP handler that reads a header at the start of a datagram (each datagram has its own). */
export function acceptProxyUdp(
  handler: Handler,
  allowed: (address: string) => boolean,
  refused: () => void,
): Handler {
  return (msg, transport, address, port) => {
    // The signature's first byte; a DNS message may start with it too (its ID), so parse.
    if (msg[0] !== 0x0d) return handler(msg, transport, address, port);
    const p = parseProxyV2(msg);
    if (p.kind === 'none') return handler(msg, transport, address, port);
    if (p.kind !== 'header' || !allowed(address)) {
      refused();
      return undefined;
    }
    const payload = msg.subarray(p.length);
    return p.source
      ? handler(payload, transport, p.source.address, p.source.port)
      : handler(payload, transport, address, port);
  };
}
