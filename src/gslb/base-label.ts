// The base label a domain answers under in the CNAME base zone. The readable form maps
// `www.example.com` → `www-example-com`; hyphens double so it stays reversible and
// collision-free for LDH names (`my-site.com` → `my--site-com`, which no other valid name
// produces, since LDH labels never start or end with a hyphen). When the readable form
// is too long, or is already taken, a hashed form is used. The label is stored with the
// domain when it is created and never recomputed, so answers never move.
import { createHash } from 'node:crypto';

const MAX_LABEL = 63;

export function readableLabel(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '').replace(/-/g, '--').replace(/\./g, '-');
}

/** 10 base-32 characters of SHA-256: 50 bits, plenty against accidental collision. */
function hashSuffix(domain: string, attempt: number): string {
  const digest = createHash('sha256').update(`${domain}#${attempt}`).digest();
  let bits = 0n;
  for (const b of digest.subarray(0, 7)) bits = (bits << 8n) | BigInt(b);
  return bits.toString(32).padStart(11, '0').slice(-10);
}

/**
 * The label for a new domain. `taken` answers whether a label is already assigned to
 * another domain (or is otherwise reserved, like a static record's owner).
 */
export function assignLabel(domain: string, taken: (label: string) => boolean): string {
  const readable = readableLabel(domain);
  if (readable.length <= MAX_LABEL && !taken(readable)) return readable;
  for (let attempt = 0; ; attempt++) {
    const suffix = hashSuffix(domain, attempt);
    const prefix = readable.slice(0, MAX_LABEL - suffix.length - 1).replace(/-+$/, '');
    const label = `${prefix}-${suffix}`;
    if (!taken(label)) return label;
  }
}
