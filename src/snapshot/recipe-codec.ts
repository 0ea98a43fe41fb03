// A build recipe as v8-serialized bytes, in pieces: how a recipe crosses to the DNS workers
// (dns/worker-protocol.ts) and how the last-known-good file stores it (last-known-good.ts).
import { deserialize, serialize } from 'node:v8';
import type { BuildRecipe } from './from-store.js';
import { nextTurn } from '../lib/cooperative.js';

/**
 * A recipe as v8-serialized pieces: everything but the domains, then the domains a chunk
 * at a time, so neither side blocks its event loop for the whole store at once (100,000
 * domains are ~20 MB and take most of a second to decode in one piece).
 */
export interface EncodedRecipe {
  head: Uint8Array;
  domains: Uint8Array[];
}

/** Domains per serialized piece: a few milliseconds to encode or decode. */
const RECIPE_CHUNK = 2000;

export async function encodeRecipe(recipe: BuildRecipe): Promise<EncodedRecipe> {
  const { domains, ...rest } = recipe.state;
  const head = serialize({ ...recipe, state: { ...rest, domains: [] } });
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < domains.length; i += RECIPE_CHUNK) {
    chunks.push(serialize(domains.slice(i, i + RECIPE_CHUNK)));
    await nextTurn();
  }
  return { head, domains: chunks };
}

export async function decodeRecipe(encoded: EncodedRecipe): Promise<BuildRecipe> {
  const recipe = deserialize(asBuffer(encoded.head)) as BuildRecipe;
  const domains: BuildRecipe['state']['domains'] = [];
  for (const chunk of encoded.domains) {
    for (const d of deserialize(asBuffer(chunk)) as BuildRecipe['state']['domains'])
      domains.push(d);
    await nextTurn();
  }
  return { ...recipe, state: { ...recipe.state, domains } };
}

/** Bytes that crossed IPC or were read as a Uint8Array, viewed as a Buffer without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
