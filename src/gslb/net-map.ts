// Operator CIDR maps (gdnsd's `nets`): longest-prefix match from a client address to a
// pool or to location facts, plus the ECS scope the match implies — the widest prefix
// around the address inside which every address gets the same match (RFC 7871 §7.2.1).
import { bitAt, parseCidr } from '../lib/cidr.js';
import type { NetMapping } from './policy-model.js';

export interface NetEntry {
  readonly cidr: string;
  readonly prefix: number;
  readonly pool?: string;
  readonly country?: string;
  readonly continent?: string;
  readonly asn?: number;
}

interface TrieNode {
  zero?: TrieNode;
  one?: TrieNode;
  entry?: NetEntry;
  /** Some entry sits strictly below this node. */
  below: boolean;
}

export interface NetMatch {
  readonly entry: NetEntry | undefined;
  /** Prefix length over which `entry` (or no entry) is the match for every address. */
  readonly scope: number;
}

const NO_MATCH: NetMatch = { entry: undefined, scope: 0 };

export class NetMap {
  private readonly v4: TrieNode = { below: false };
  private readonly v6: TrieNode = { below: false };
  readonly size: number;

  /** Throws naming the index of a bad or duplicate entry. */
  constructor(mappings: readonly NetMapping[]) {
    mappings.forEach((m, i) => {
      let cidr;
      try {
        cidr = parseCidr(m.cidr);
      } catch (err) {
        throw new Error(`nets[${i}].cidr: ${(err as Error).message}`);
      }
      if (
        m.pool === undefined &&
        m.country === undefined &&
        m.asn === undefined &&
        m.continent === undefined
      )
        throw new Error(
          `nets[${i}] maps ${m.cidr} to nothing: give a pool, country, continent or asn`,
        );
      let node = cidr.family === 4 ? this.v4 : this.v6;
      for (let b = 0; b < cidr.prefix; b++) {
        node.below = true;
        const side = bitAt(cidr.bytes, b) ? 'one' : 'zero';
        node = node[side] ??= { below: false };
      }
      if (node.entry) throw new Error(`nets[${i}].cidr ${m.cidr} is mapped twice`);
      node.entry = { ...m, prefix: cidr.prefix };
    });
    this.size = mappings.length;
  }

  /** `bytes` is 4 (IPv4) or 16 (IPv6) octets. */
  match(bytes: Buffer): NetMatch {
    if (this.size === 0) return NO_MATCH;
    let node: TrieNode | undefined = bytes.length === 4 ? this.v4 : this.v6;
    const bits = bytes.length * 8;
    let entry: NetEntry | undefined;
    let scope = 0;
    for (let depth = 0; node; depth++) {
      if (node.entry) entry = node.entry;
      // An entry below this node covers only part of the prefix at this depth, so the
      // match is uniform only from one bit deeper on.
      if (node.below) scope = depth + 1;
      if (depth === bits) break;
      node = bitAt(bytes, depth) ? node.one : node.zero;
    }
    return { entry, scope: Math.min(scope, bits) };
  }
}
