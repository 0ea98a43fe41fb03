// Reads acme-dns request bodies the way acme-dns does: Go's encoding/json matches an object's
// keys to the struct's fields without regard to letter case, so `{"SubDomain": …, "Txt": …}`
// (goacmedns, used by lego and cert-manager) and `{"AllowFrom": [...]}` mean what
// `subdomain`, `txt` and `allowfrom` mean. Go folds case by Unicode simple folding: ASCII
// letters, plus U+017F (ſ) with s and U+212A (Kelvin sign) with k, the only non-ASCII runes
// whose fold orbit holds an ASCII letter. Where Go would keep the last of two keys for one
// field, this refuses the body: a repeated field is ambiguous, and the fields here decide who
// may write what. Which unknown keys are refused is the caller's choice.

/** The key as Go's decoder compares it with a field name. */
export function foldKey(key: string): string {
  let out = '';
  for (const ch of key) {
    if (ch === '\u017f') out += 's';
    else if (ch === '\u212a') out += 'k';
    else if (ch >= 'A' && ch <= 'Z') out += ch.toLowerCase();
    else out += ch;
  }
  return out;
}

export interface ReadFields {
  /** Each known field given, under its own (lowercase) name. */
  fields: Map<string, unknown>;
  /** Keys that match no field, as the client spelled them. */
  unknown: string[];
  /** Fields given under more than one key, as the client spelled the keys. */
  repeated: string[];
}

/** Sorts a JSON object's keys onto `names` (lowercase field names) as Go's decoder would. */
export function readFields(body: Record<string, unknown>, names: readonly string[]): ReadFields {
  const fields = new Map<string, unknown>();
  const spelled = new Map<string, string>();
  const unknown: string[] = [];
  const repeated: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    const name = foldKey(key);
    if (!names.includes(name)) {
      unknown.push(key);
      continue;
    }
    const earlier = spelled.get(name);
    if (earlier !== undefined) repeated.push(`${earlier}/${key}`);
    spelled.set(name, key);
    fields.set(name, value);
  }
  return { fields, unknown, repeated };
}
