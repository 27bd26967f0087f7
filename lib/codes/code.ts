import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RandomBytes } from '../tokens/token';

/**
 * One-time reset codes (RESET_METHODS=code). A code flow is:
 * - the flowId (128 bits, base64url): returned to the client that asked, it binds the code to
 *   that request (ASVS 5.0 6.6.2); stored only as its SHA-256 (the item's key);
 * - the code (RESET_CODE_LENGTH digits): emailed; stored only as an HMAC keyed with a server
 *   secret and bound to the flowId. A plain hash of 10^8 codes falls to an offline search in
 *   seconds; the HMAC needs the key.
 */
const FLOW_ID_BYTES = 16;
const FLOW_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** Bytes drawn per code candidate: 48 bits covers 10^10 with room to reject. */
const CODE_DRAW_BYTES = 6;

export const FLOW_ID_LENGTH = 22;

export function newFlowId(random: RandomBytes): string {
  return Buffer.from(random(FLOW_ID_BYTES)).toString('base64url');
}

export function isFlowId(value: string): boolean {
  return FLOW_ID_PATTERN.test(value);
}

/** The flow item's key: a leaked table gives no flowId to present. */
export function flowKey(flowId: string): string {
  return createHash('sha256').update(flowId).digest('base64url');
}

/**
 * A uniformly drawn code of `length` digits. Rejection sampling: a 48-bit draw at or above the
 * largest multiple of 10^length is thrown away, so `% 10^length` favours no digit (no modulo bias).
 */
export function generateCode(random: RandomBytes, length: number): string {
  const space = 10 ** length;
  const limit = Math.floor(2 ** (8 * CODE_DRAW_BYTES) / space) * space;
  for (;;) {
    const draw = Buffer.from(random(CODE_DRAW_BYTES)).readUIntBE(0, CODE_DRAW_BYTES);
    if (draw < limit) return String(draw % space).padStart(length, '0');
  }
}

/** Binds a code to its flow: the same digits in another flow give an unrelated value. */
export type CodeHasher = (flowId: string, code: string) => string;

/**
 * HMAC-SHA256 keyed with a key derived from the deployment's account-key secret. The derivation
 * separates the domains: the same secret keys the pseudonymous account and IP keys, and neither
 * can be turned into the other.
 */
export function createCodeHasher(secret: string): CodeHasher {
  const key = createHmac('sha256', secret).update('password-reset:code-hmac-key:v1').digest();
  return (flowId, code) => createHmac('sha256', key).update(`${flowId}:${code}`).digest('base64url');
}

/**
 * What a flow that emailed nothing stores instead of a code's HMAC: 256 random bits, the same
 * length and alphabet, which no code can ever match.
 */
export function phantomCodeHash(random: RandomBytes): string {
  return Buffer.from(random(32)).toString('base64url');
}

/** Prevents any possibility of a timing attack by using a constant-time comparison. */
export function codeMatches(presentedHash: string, storedHash: string): boolean {
  const presented = Buffer.from(presentedHash);
  const stored = Buffer.from(storedHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
