// ExternalDNS's side of the webhook API, for tests: request bodies marshalled as Go's
// encoding/json marshals endpoint.Endpoint and plan.Changes (field order of the struct,
// `omitempty`, map keys sorted, <, >, & escaped, Encoder's trailing newline), and the
// requests, headers and status checks of provider/webhook/webhook.go, as read at
// external-dns v0.22.0-12-g2bf1bf8af. ExternalDNS itself cannot be run here (not packaged
// by Debian, and the machine reaches only the npm registry and Debian's archive).

export const MEDIA_TYPE = 'application/external.dns.webhook+json;version=1';

export interface GoEndpoint {
  dnsName?: string;
  targets?: string[];
  recordType?: string;
  setIdentifier?: string;
  recordTTL?: number;
  labels?: Record<string, string>;
  providerSpecific?: { name?: string; value?: string }[];
}

export interface GoChanges {
  create?: GoEndpoint[];
  updateOld?: GoEndpoint[];
  updateNew?: GoEndpoint[];
  delete?: GoEndpoint[];
}

/** Go's string escaping after JSON.stringify: HTML-unsafe characters and U+2028/9. */
function goEscape(json: string): string {
  return json
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** An Endpoint in struct order, empty fields left out (`json:",omitempty"`). */
function endpointFields(e: GoEndpoint): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.dnsName) out.dnsName = e.dnsName;
  if (e.targets?.length) out.targets = e.targets;
  if (e.recordType) out.recordType = e.recordType;
  if (e.setIdentifier) out.setIdentifier = e.setIdentifier;
  if (e.recordTTL) out.recordTTL = e.recordTTL;
  if (e.labels && Object.keys(e.labels).length) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(e.labels).sort()) sorted[k] = e.labels[k] as string;
    out.labels = sorted;
  }
  if (e.providerSpecific?.length) {
    out.providerSpecific = e.providerSpecific.map((p) => {
      const q: Record<string, string> = {};
      if (p.name) q.name = p.name;
      if (p.value) q.value = p.value;
      return q;
    });
  }
  return out;
}

/** json.NewEncoder(b).Encode([]*endpoint.Endpoint): `null` for a nil slice. */
export function marshalEndpoints(eps: GoEndpoint[] | null): string {
  return goEscape(JSON.stringify(eps === null ? null : eps.map(endpointFields))) + '\n';
}

/** json.NewEncoder(b).Encode(*plan.Changes). */
export function marshalChanges(c: GoChanges): string {
  const out: Record<string, unknown> = {};
  for (const k of ['create', 'updateOld', 'updateNew', 'delete'] as const) {
    const list = c[k];
    if (list?.length) out[k] = list.map(endpointFields);
  }
  return goEscape(JSON.stringify(out)) + '\n';
}

/** labels.SerializePlain(true): the TXT registry's ownership record text, with its quotes. */
export function ownershipTxt(labels: Record<string, string>): string {
  const tokens = ['heritage=external-dns'];
  for (const k of Object.keys(labels).sort()) tokens.push(`external-dns/${k}=${labels[k]}`);
  return `"${tokens.join(',')}"`;
}

/** mapper.ToTXTName with no prefix or suffix: `<type>-` before the first label. */
export function txtName(dnsName: string, recordType: string): string {
  const dot = dnsName.indexOf('.');
  const first = dot < 0 ? dnsName : dnsName.slice(0, dot);
  const rest = dot < 0 ? '' : dnsName.slice(dot);
  return `${recordType.toLowerCase()}-${first}${rest}`;
}

/** The TXT registry's ApplyChanges: each created record gets its ownership TXT. */
export function withOwnership(c: GoChanges, owner = 'default'): GoChanges {
  const create: GoEndpoint[] = [];
  for (const e of c.create ?? []) {
    const labels = { ...(e.labels ?? {}), owner };
    create.push({ ...e, labels });
  }
  for (const e of c.create ?? []) {
    const labels = { ...(e.labels ?? {}), owner };
    create.push({
      dnsName: txtName(e.dnsName as string, e.recordType as string),
      targets: [ownershipTxt(labels)],
      recordType: 'TXT',
      labels: { ownedRecord: e.dnsName as string },
      ...(e.providerSpecific ? { providerSpecific: e.providerSpecific } : {}),
    });
  }
  const del: GoEndpoint[] = [...(c.delete ?? [])];
  for (const e of c.delete ?? []) {
    del.push({
      dnsName: txtName(e.dnsName as string, e.recordType as string),
      targets: [ownershipTxt({ ...(e.labels ?? {}), owner })],
      recordType: 'TXT',
      labels: { ownedRecord: e.dnsName as string },
    });
  }
  return { ...c, ...(create.length ? { create } : {}), ...(del.length ? { delete: del } : {}) };
}

/** The webhook client: each call sends what webhook.go sends and checks what it checks. */
export class WebhookClient {
  constructor(readonly url: string) {}

  /** newProvider: GET / with Accept; the exact content type; the DomainFilter JSON. */
  async negotiate(): Promise<{ include?: string[]; exclude?: string[] }> {
    const res = await fetch(this.url, { headers: { Accept: MEDIA_TYPE } });
    if (res.status >= 300) throw new Error(`negotiate: status ${res.status}`);
    const ct = res.headers.get('content-type');
    if (ct !== MEDIA_TYPE) throw new Error(`wrong content type returned from server: ${ct}`);
    return (await res.json()) as { include?: string[]; exclude?: string[] };
  }

  /** Records: GET /records with Accept; only 200 is success. */
  async records(): Promise<GoEndpoint[]> {
    const res = await fetch(new URL('records', this.url + '/'), {
      headers: { Accept: MEDIA_TYPE },
    });
    if (res.status !== 200) throw new Error(`failed to get records with code ${res.status}`);
    return ((await res.json()) as GoEndpoint[] | null) ?? [];
  }

  /** ApplyChanges: POST /records with Content-Type only; only 204 is success. */
  async applyChanges(c: GoChanges): Promise<void> {
    const res = await fetch(new URL('records', this.url + '/'), {
      method: 'POST',
      headers: { 'Content-Type': MEDIA_TYPE },
      body: marshalChanges(c),
    });
    const text = await res.text();
    if (res.status !== 204) {
      throw new Error(`failed to apply changes with code ${res.status}: ${text}`);
    }
  }

  /** AdjustEndpoints: POST /adjustendpoints with Content-Type and Accept; only 200. */
  async adjustEndpoints(eps: GoEndpoint[]): Promise<GoEndpoint[]> {
    const res = await fetch(new URL('adjustendpoints', this.url + '/'), {
      method: 'POST',
      headers: { 'Content-Type': MEDIA_TYPE, Accept: MEDIA_TYPE },
      body: marshalEndpoints(eps),
    });
    if (res.status !== 200) throw new Error(`failed to AdjustEndpoints with code ${res.status}`);
    return (await res.json()) as GoEndpoint[];
  }
}
