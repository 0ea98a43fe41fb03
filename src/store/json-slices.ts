// JSON text of a state object written a slice at a time: byte for byte what JSON.stringify
// gives for the same object with its Map members as plain objects, but a Map member (the
// embedded store's domains, 100,000 at scale) is serialised a few thousand entries per
// slice, so the writer can hand the event loop back between slices.

/**
 * Everything is captured at the call: plain members are stringified at once (they may be
 * changed in place later, as nodes' health is), Map members' entries are copied into an
 * array (their values must be replaced, never changed in place, for the slices written
 * later to show the state of the call). The slices joined are one JSON text.
 */
export function jsonSlices(state: object, entriesPerSlice = 2000): Iterable<string> {
  const parts: Array<string | MapCopy> = [];
  let sep = '{';
  for (const [key, member] of Object.entries(state)) {
    if (member instanceof Map) {
      // Two flat arrays, not an array per entry: 100,000 small arrays cost a young-generation
      // collection of 10–30 ms at once.
      const map = member as Map<string, unknown>;
      const copy = { keys: Array.from(map.keys()), values: Array.from(map.values()) };
      parts.push(`${sep}${JSON.stringify(key)}:{`, copy, '}');
    } else {
      // JSON.stringify leaves out a member whose value is undefined; so do we.
      const text = JSON.stringify(member) as string | undefined;
      if (text === undefined) continue;
      parts.push(`${sep}${JSON.stringify(key)}:${text}`);
    }
    sep = ',';
  }
  parts.push(sep === '{' ? '{}' : '}');
  return slicesOf(parts, Math.max(1, entriesPerSlice));
}

interface MapCopy {
  keys: string[];
  values: unknown[];
}

function* slicesOf(parts: Array<string | MapCopy>, size: number) {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    let sep = '';
    const { keys, values } = part;
    for (let start = 0; start < keys.length; start += size) {
      const end = Math.min(keys.length, start + size);
      for (let i = start; i < end; i++) {
        const text = JSON.stringify(values[i]) as string | undefined;
        if (text === undefined) continue;
        out += `${sep}${JSON.stringify(keys[i])}:${text}`;
        sep = ',';
      }
      yield out;
      out = '';
    }
  }
  if (out) yield out;
}
