import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../lib/errors';
import { TokenStore } from '../../lib/tokens/token-store';

/** Edge cases DynamoDB Local cannot produce on demand; the happy paths run on DynamoDB Local. */
function storeAnswering(...responses: unknown[]): TokenStore {
  const client = { send: async () => responses.shift() } as unknown as DynamoDBDocumentClient;
  return new TokenStore(client, 'tokens', 'users');
}

/** A token item as issued: bound to the address key and credential version at issue. */
const BOUND = { userId: 'u1', verifierHash: 'h', emailKey: 'k', credentialVersion: 0 };

describe('TokenStore.findCandidate', () => {
  it('treats keys DynamoDB left unprocessed as an outage, not as a superseded token', async () => {
    const store = storeAnswering(
      { Item: { ...BOUND, expiresAt: Date.now() + 60_000 } },
      { Responses: { tokens: [], users: [] }, UnprocessedKeys: { tokens: { Keys: [{ pk: 'active#u1' }] } } },
    );

    await expect(store.findCandidate('selector')).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  it('reports a token whose pointer moved on as not active', async () => {
    const store = storeAnswering(
      { Item: { ...BOUND, expiresAt: 1 } },
      {
        Responses: { tokens: [{ pk: 'active#u1', selector: 'newer' }], users: [{ email: 'a@example.com' }] },
      },
    );

    await expect(store.findCandidate('selector')).resolves.toMatchObject({
      isActive: false,
      userEmail: 'a@example.com',
    });
  });

  it('refuses a token item without its credential binding', async () => {
    const store = storeAnswering({
      Item: { userId: 'u1', verifierHash: 'h', expiresAt: Date.now() + 60_000 },
    });

    await expect(store.findCandidate('selector')).resolves.toBeNull();
  });
});
