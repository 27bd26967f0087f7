import { createHmac } from 'node:crypto';

/**
 * A stable, non-reversible stand-in for an email or IP, for logs and rate-limit keys.
 * HMAC with a per-deployment salt, so that the same address gives unrelated keys in
 * two deployments and a plain SHA-256 rainbow table of emails does not apply.
 */
export type Pseudonymize = (kind: 'account' | 'ip', value: string) => string;

export function createPseudonymizer(salt: string): Pseudonymize {
  return (kind, value) =>
    createHmac('sha256', salt).update(`${kind}:${value}`).digest('base64url').slice(0, 22);
}
