// The next owner name of a compact-denial NSEC (RFC 9824 §3: the "epsilon" function,
// RFC 4470 §3.1.2's absolute method): the immediate successor of a name in canonical
// order, so the NSEC covers that one name and nothing else. Works on canonical
// (lower-cased, uncompressed) wire names; never returns a name longer than 255 octets or
// a label longer than 63, whatever the input's shape.

const MAX_NAME = 255;
const MAX_LABEL = 63;

/** Splits a wire name into its labels (without length octets), leftmost first. */
export function wireLabels(wire: Buffer): Buffer[] {
  const labels: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const len = wire[pos];
    if (len === undefined || len > MAX_LABEL) throw new Error('malformed wire name');
    if (len === 0) return labels;
    if (pos + 1 + len > wire.length) throw new Error('malformed wire name');
    labels.push(wire.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

function joinLabels(labels: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** RFC 4034 §6.1 canonical order of two canonical wire names: <0, 0, >0. */
export function compareCanonical(a: Buffer, b: Buffer): number {
  const la = wireLabels(a);
  const lb = wireLabels(b);
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    const c = Buffer.compare(la[la.length - i] as Buffer, lb[lb.length - i] as Buffer);
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

/**
 * The first label made one step greater with no name fitting between: an octet appended
 * when there is room, else the last octet below 0xff raised (skipping A–Z, which do not
 * occur in canonical names) and the rest of the label dropped; undefined when the label
 * is all 0xff at full length.
 */
function nextLabel(label: Buffer, room: number): Buffer | undefined {
  if (label.length < MAX_LABEL && room >= 1) return Buffer.concat([label, Buffer.from([0])]);
  for (let i = label.length - 1; i >= 0; i--) {
    const c = label[i] as number;
    if (c === 0xff) continue;
    const up = c + 1 >= 0x41 && c + 1 <= 0x5a ? 0x5b : c + 1;
    return Buffer.concat([label.subarray(0, i), Buffer.from([up])]);
  }
  return undefined;
}

/**
 * The immediate canonical successor of `wire` within the zone `apexWire`: `\000.<name>`
 * when it fits; else (a name too long to have children) the next sibling name; when no
 * greater name exists in the zone, the apex (the NSEC chain wraps around, RFC 4034 §4.1.1).
 */
export function successorWire(wire: Buffer, apexWire: Buffer): Buffer {
  if (wire.length + 2 <= MAX_NAME) return Buffer.concat([Buffer.from([1, 0]), wire]);
  const apexLabels = wireLabels(apexWire).length;
  let labels = wireLabels(wire);
  // Names below `labels` cannot exist (no room for a label), so the successor is the next
  // sibling of the first label, or else of an ancestor's: every name of its subtree is past.
  while (labels.length > apexLabels) {
    const length = labels.reduce((n, l) => n + 1 + l.length, 1);
    const next = nextLabel(labels[0] as Buffer, MAX_NAME - length);
    if (next) return joinLabels([next, ...labels.slice(1)]);
    labels = labels.slice(1);
  }
  return apexWire;
}
