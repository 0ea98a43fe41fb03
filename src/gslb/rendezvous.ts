// Weighted rendezvous (highest random weight) hashing: each (key, node) pair gets a score
// weight / -ln(u), u uniform in (0,1) from a hash of the pair; nodes are taken in score
// order. Adding a node moves exactly the keys it now wins (≈ w/(W+w) of them); removing
// one moves only the keys it held. Pure functions: the snapshot precomputes the seeds.

/** FNV-1a over the UTF-16 code units, then a murmur3 finaliser for avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Score of one node for one key; higher wins. Weight 0 never wins. */
export function score(keySeed: number, nodeSeed: number, weight: number): number {
  if (weight <= 0) return -Infinity;
  // Two rounds so that seeds differing in few bits still give independent values.
  const h = fmix32(fmix32(keySeed ^ Math.imul(nodeSeed, 0x9e3779b1)) + nodeSeed);
  const u = (h + 0.5) / 4294967296;
  return weight / -Math.log(u);
}

export interface Weighted {
  readonly seed: number;
  readonly weight: number;
}

/** Indices of `nodes` ordered by descending score for `keySeed` (ties by index). */
export function rank(keySeed: number, nodes: readonly Weighted[]): number[] {
  const scores = nodes.map((n) => score(keySeed, n.seed, n.weight));
  return nodes
    .map((_, i) => i)
    .filter((i) => (scores[i] as number) > -Infinity)
    .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
}

/** rankHead's scores of the head so far: scratch, reused by every call (never re-entered). */
let headScores = new Float64Array(16);

/**
 * The first `m` indices of `rank(keySeed, nodes)`, without sorting the rest: one score per
 * node and an insertion into a short sorted head (same order and tie rule as rank).
 */
export function rankHead(keySeed: number, nodes: readonly Weighted[], m: number): Uint16Array {
  const idx = new Uint16Array(Math.min(m, nodes.length));
  if (headScores.length < idx.length) headScores = new Float64Array(idx.length * 2);
  const val = headScores;
  let n = 0;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as Weighted;
    const v = score(keySeed, node.seed, node.weight);
    if (v === -Infinity) continue;
    // Strictly greater moves ahead: equal scores keep index order, as rank's tie rule.
    let j = n < idx.length ? n : idx.length - 1;
    if (n === idx.length && !(v > (val[j] as number))) continue;
    while (j > 0 && v > (val[j - 1] as number)) {
      idx[j] = idx[j - 1] as number;
      val[j] = val[j - 1] as number;
      j--;
    }
    idx[j] = i;
    val[j] = v;
    if (n < idx.length) n++;
  }
  // A short typed array lives on the V8 heap; a subarray view would move its bytes to a
  // separately allocated buffer, which a snapshot memoising one head per domain pays for.
  return n === idx.length ? idx : idx.slice(0, n);
}

/** FNV-1a over bytes with the same finaliser as hash32: the spread bucket of a client subnet. */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}
