// The customer's side of DNS in ACME tests, as a recursive resolver would present it: the
// customer zone's `_acme-challenge` CNAMEs (editable by the test), followed into Cirrus's
// acme zone over real DNS. Pebble and Cirrus's CNAME check both resolve through it.
import dns2 from 'dns2';
import { Resolver } from 'node:dns/promises';

const { Packet } = dns2;

export interface CustomerDns {
  port: number;
  /** `_acme-challenge.<domain>` → target; delete to simulate a removed CNAME. */
  cnames: Map<string, string>;
  /** TXT questions asked, by name, in order. */
  queries: string[];
  /** When set, TXT answers carry this value instead of what Cirrus serves (a CA would fail). */
  tamper: { value: string | undefined };
  stop(): Promise<void>;
}

export async function startCustomerDns(cirrusDnsPort: number): Promise<CustomerDns> {
  const cnames = new Map<string, string>();
  const queries: string[] = [];
  const tamper: { value: string | undefined } = { value: undefined };
  const upstream = new Resolver({ timeout: 2000, tries: 1 });
  upstream.setServers([`127.0.0.1:${cirrusDnsPort}`]);
  const server = dns2.createServer({
    udp: true,
    tcp: true,
    handle: (request, send) => {
      void (async () => {
        const res = Packet.createResponseFromRequest(request);
        res.header.ra = 1;
        const q = request.questions[0];
        if (!q) return send(res);
        const name = q.name.toLowerCase().replace(/\.$/, '');
        if (q.type === Packet.TYPE.TXT) queries.push(name);
        const target = cnames.get(name);
        let txtOwner: string | undefined = name.endsWith('.acme.cdn.example.net')
          ? name
          : undefined;
        if (target) {
          (res.answers as unknown[]).push({
            name: q.name,
            type: Packet.TYPE.CNAME,
            class: Packet.CLASS.IN,
            ttl: 0,
            domain: target,
          });
          txtOwner = target;
        }
        if (txtOwner && q.type === Packet.TYPE.TXT) {
          const found = tamper.value
            ? [[tamper.value]]
            : await upstream.resolveTxt(txtOwner).catch(() => [] as string[][]);
          for (const parts of found)
            (res.answers as unknown[]).push({
              name: txtOwner,
              type: Packet.TYPE.TXT,
              class: Packet.CLASS.IN,
              ttl: 0,
              data: parts.join(''),
            });
        }
        if (res.answers.length === 0) {
          res.header.rcode = target || txtOwner ? 0 : 3;
          (res.authorities as unknown[]).push({
            name: 'example.test',
            type: Packet.TYPE.SOA,
            class: Packet.CLASS.IN,
            ttl: 0,
            primary: 'ns1.example.test',
            admin: 'hostmaster.example.test',
            serial: 1,
            refresh: 3600,
            retry: 600,
            expiration: 86400,
            minimum: 0,
          });
        }
        send(res);
      })();
    },
  });
  server.listen({ udp: { port: 0, address: '127.0.0.1' }, tcp: { port: 0, address: '127.0.0.1' } });
  // dns2's typings lack `listening` and plain-object resources; both exist at run time.
  await (server as unknown as { listening: Promise<void> }).listening;
  // dns2 binds UDP and TCP separately; pebble and node:dns both ask over UDP.
  const addr = server.addresses().udp as { port: number };
  return { port: addr.port, cnames, queries, tamper, stop: () => server.close() };
}
