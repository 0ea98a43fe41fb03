// Domain-name text handling shared by config, zone text, the API and the pipeline.
// Internally a name is lower-case, without the trailing dot; the root is ''.

const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

/** Lower-cases and strips the trailing dot. Does not validate. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Why `name` is not a usable DNS host name, or undefined when it is. */
export function nameProblem(name: string, opts: { wildcard?: boolean } = {}): string | undefined {
  const n = normalizeName(name);
  if (n === '') return 'must not be the root';
  if (n.length > 253) return 'is longer than 253 characters';
  const labels = n.split('.');
  for (const [i, label] of labels.entries()) {
    if (label.length === 0) return 'has an empty label';
    if (label.length > 63) return `label "${label}" is longer than 63 characters`;
    if (label === '*' && !(opts.wildcard && i === 0)) return 'has a misplaced "*" label';
    if (!LABEL.test(label)) return `label "${label}" has characters outside a-z 0-9 - _`;
  }
  // RFC 1123 §2.1, RFC 3696 §2: a top label is never all-numeric, so a mistyped address
  // (203.0.113.300, 10.0.0) is refused instead of becoming a host name.
  if (/^\d+$/.test(labels[labels.length - 1] as string)) return 'looks like a mistyped IP address';
  return undefined;
}

export function isSubdomainOf(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith('.' + zone);
}

export function parentName(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

/** Absolute presentation form with the trailing dot, as zone files and dig print it. */
export function fqdn(name: string): string {
  return name === '' ? '.' : name + '.';
}
