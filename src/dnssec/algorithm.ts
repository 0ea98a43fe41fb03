// The two DNSSEC signing algorithms Cirrus offers (RFC 8624 §3.1 "MUST" for signers):
// ECDSA P-256 with SHA-256 (13, RFC 6605) and Ed25519 (15, RFC 8080). Keys are node:crypto
// KeyObjects; what goes into DNSKEY is the raw public key, what goes into RRSIG the raw
// signature (r‖s for ECDSA, not DER).
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';

export const Algorithm = { ECDSAP256SHA256: 13, ED25519: 15 } as const;
export type AlgorithmNumber = (typeof Algorithm)[keyof typeof Algorithm];

/** Config and API names of the algorithms. */
export type AlgorithmName = 'ecdsap256sha256' | 'ed25519';

export function algorithmNumber(name: AlgorithmName): AlgorithmNumber {
  return name === 'ed25519' ? Algorithm.ED25519 : Algorithm.ECDSAP256SHA256;
}

export function algorithmName(n: number): AlgorithmName {
  if (n === Algorithm.ED25519) return 'ed25519';
  if (n === Algorithm.ECDSAP256SHA256) return 'ecdsap256sha256';
  throw new Error(`unsupported DNSSEC algorithm ${n}`);
}

/** A private key as PKCS#8 PEM, the form it is stored in. */
export function generatePrivateKey(alg: AlgorithmNumber): string {
  const { privateKey } =
    alg === Algorithm.ED25519
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface SigningKey {
  readonly algorithm: AlgorithmNumber;
  readonly privateKey: KeyObject;
  /** RFC 6605 §4 (x‖y, 64 octets) or RFC 8080 §3 (32 octets). */
  readonly publicKey: Buffer;
}

/** Loads a stored key; throws when the PEM does not hold a key of `alg`. */
export function loadSigningKey(alg: AlgorithmNumber, pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (alg === Algorithm.ED25519) {
    if (jwk.crv !== 'Ed25519' || !jwk.x) throw new Error('the key is not an Ed25519 key');
    return { algorithm: alg, privateKey, publicKey: Buffer.from(jwk.x, 'base64url') };
  }
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('the key is not a P-256 key');
  return {
    algorithm: alg,
    privateKey,
    publicKey: Buffer.concat([Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]),
  };
}

/** The raw signature over `data` (64 octets for both algorithms). */
export function signData(key: SigningKey, data: Buffer): Buffer {
  if (key.algorithm === Algorithm.ED25519) return sign(null, data, key.privateKey);
  return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
}
