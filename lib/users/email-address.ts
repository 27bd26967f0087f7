/**
 * Trim and lowercase: the one normalization used for lookups and for rate-limit keys. Apart from
 * the user store so that the request function, which only normalizes, bundles no DynamoDB client.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
