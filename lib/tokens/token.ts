import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A reset token is `selector.verifier`:
 * - the selector (128 bits) is a lookup key, stored as is;
 * - the verifier (256 bits) is the secret; only its SHA-256 is stored.
 * A fast hash is enough here: the verifier has 256 bits of entropy, so there is no
 * dictionary to attack, unlike a password.
 */
export interface IssuedToken {
  /** The full token, to put in the link. Never stored, never logged. */
  value: string;
  selector: string;
  verifierHash: string;
}

export type RandomBytes = (size: number) => Uint8Array;

const SELECTOR_BYTES = 16;
const VERIFIER_BYTES = 32;
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export const TOKEN_MAX_LENGTH = 66;

export function issueToken(random: RandomBytes = randomBytes): IssuedToken {
  const selector = Buffer.from(random(SELECTOR_BYTES)).toString('base64url');
  const verifier = Buffer.from(random(VERIFIER_BYTES)).toString('base64url');
  return { value: `${selector}.${verifier}`, selector, verifierHash: hashVerifier(verifier) };
}

/** Splits a presented token. Returns null for anything that could not have been issued. */
export function parseToken(value: string): { selector: string; verifier: string } | null {
  const match = TOKEN_PATTERN.exec(value);
  if (!match) return null;
  return { selector: match[1] as string, verifier: match[2] as string };
}

export function hashVerifier(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Prevents any possibility of a timing attack by using a constant-time comparison. */
export function verifierMatches(verifier: string, storedHash: string): boolean {
  const presented = Buffer.from(hashVerifier(verifier));
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
