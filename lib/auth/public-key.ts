/**
 * PEM public keys for `--jwt-public-key` and the signature algorithms each kind of key may verify.
 * Apart from the verifier (jwt.ts) because the config check loads the key too, before listening.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';

const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_BY_CURVE: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const EDDSA = ['EdDSA', 'Ed25519'];
/** What a remote key set (JWKS) may sign with: the asymmetric algorithms only. */
export const ASYMMETRIC_ALGORITHMS = [...RSA, 'ES256', 'ES384', 'ES512', ...EDDSA];

/** The algorithms a public key may verify, from its type; anything else is a config error. */
export function algorithmsForKey(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA;
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const alg = EC_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (alg) return [alg];
      break;
    }
    case 'ed25519':
      return EDDSA;
  }
  throw new ConfigError(`--jwt-public-key: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (RSA, EC P-256/384/521 or Ed25519)`);
}

/** Reads a PEM public key (or certificate) file; a ConfigError unless it is a supported key. */
export function loadPublicKey(file: string): { key: KeyObject; algorithms: string[] } {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new ConfigError(`--jwt-public-key: not a PEM public key or certificate (${(err as Error).message})`);
  }
  return { key, algorithms: algorithmsForKey(key) };
}
