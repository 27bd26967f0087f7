/**
 * Attribute names shared by the runtime, the CDK stack and the local tables,
 * so that the three can never drift apart.
 */
export const TOKEN_TABLE = {
  partitionKey: 'pk',
  /** Epoch seconds. DynamoDB deletes lazily, so expiry is always checked on read too. */
  ttlAttribute: 'ttl',
} as const;

export const USERS_TABLE = {
  partitionKey: 'userId',
  /** The GSI's partition key. It holds the normalized (trimmed, lowercased) address. */
  emailAttribute: 'email',
  defaultEmailIndexName: 'email-index',
} as const;

/**
 * The token table's item kinds by partition key prefix (`token#<selector>`, ...), as IAM's
 * LeadingKeys conditions name them. Outbox, suppression and idempotency items are `OUTBOX_PREFIX`,
 * `SUPPRESSED_PREFIX` and `IDEMPOTENCY_KEY_PREFIX`, beside the code that writes them.
 */
export const TOKEN_KEY_PREFIXES = {
  token: 'token#',
  active: 'active#',
  flow: 'flow#',
  rate: 'rate#',
} as const;
