// PROXY protocol version 2 headers (HAProxy's proxy-protocol.txt, section 2.2): the binary
// header a load balancer or dnsdist puts before a UDP datagram or at the start of a TCP
// stream to pass on the client's address. This module only reads bytes; who may send a
// header, and what happens to one that is refused, is the transports' business.

/** The 12-byte signature every version 2 header starts with. */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

const FIXED = 16;
const AF_INET = 0x1;
const AF_INET6 = 0x2;

export type ProxyV2 =
  /** Does not start with the signature: no header. */
  | { readonly kind: 'none' }
  /** A header's beginning (a stream must wait for more bytes). */
  | { readonly kind: 'incomplete' }
  /** The signature, then something that is not a valid version 2 header. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /**
   * A whole header of `length` bytes (TLVs included). `source` is the client for a PROXY
   * command over TCP or UDP on IPv4 or IPv6; LOCAL (the proxy's own traffic) and the other
   * families carry none, and the connection's own address stands.
   */
  | {
      readonly kind: 'header';
      readonly length: number;
      readonly command: 'local' | 'proxy';
      readonly source?: { readonly address: string; readonly port: number };
    };

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // The longest run of two or more zero groups becomes "::" (RFC 5952 section 4.2).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Reads a version 2 header at the start of `buf`. */
export function parseProxyV2(buf: Buffer): ProxyV2 {
  const seen = Math.min(buf.length, PROXY_V2_SIGNATURE.length);
  if (buf.compare(PROXY_V2_SIGNATURE, 0, seen, 0, seen) !== 0) return { kind: 'none' };
  if (buf.length < FIXED) return { kind: 'incomplete' };
  const verCmd = buf[12] as number;
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: `version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { kind: 'invalid', reason: `command ${cmd}` };
  const family = (buf[13] as number) >> 4;
  const length = FIXED + buf.readUInt16BE(14);
  if (buf.length < length) return { kind: 'incomplete' };
  if (cmd === 0) return { kind: 'header', length, command: 'local' };
  const body = buf.subarray(FIXED, length);
  if (family === AF_INET) {
    if (body.length < 12) return { kind: 'invalid', reason: 'short IPv4 address block' };
    const address = `${body[0]}.${body[1]}.${body[2]}.${body[3]}`;
    return {
      kind: 'header',
      length,
      command: 'proxy',
      source: { address, port: body.readUInt16BE(8) },
    };
  }
  if (family === AF_INET6) {
    if (body.length < 36) return { kind: 'invalid', reason: 'short IPv6 address block' };
    const address = ipv6Text(body.subarray(0, 16));
    return {
      kind: 'header',
      length,
      command: 'proxy',
      source: { address, port: body.readUInt16BE(32) },
    };
  }
  return { kind: 'header', length, command: 'proxy' };
}

/** A version 2 PROXY header for `source` → `destination` (same family), for tests and tools. */
export function buildProxyV2(
  source: { address: string; port: number },
  destination: { address: string; port: number },
  transport: 'stream' | 'dgram',
): Buffer {
  const v6 = source.address.includes(':');
  const bytes = (a: string): Buffer => {
    if (!v6) return Buffer.from(a.split('.').map(Number));
    const [head = '', tail = ''] = a.split('::');
    const h = head ? head.split(':') : [];
    const t = a.includes('::') ? (tail ? tail.split(':') : []) : [];
    const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  };
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  const body = Buffer.concat([bytes(source.address), bytes(destination.address), ports]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x21;
  fixed[1] = ((v6 ? AF_INET6 : AF_INET) << 4) | (transport === 'stream' ? 1 : 2);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body]);
}
