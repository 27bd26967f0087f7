import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { type DelayProxy, startDelayProxy } from '../../local/delay-proxy';
import { type LocalServer, ROUTES, startLocalServer } from '../../local/server';
import { postFrom } from './loopback-clients';

/**
 * The local server at npm start's defaults with DynamoDB Local behind the delaying proxy (only
 * the table and parameter names differ, so the suite gets tables of its own). `direct` bypasses
 * the proxy: a test reads what DynamoDB holds, at once.
 */
export interface SlowStore {
  proxy: DelayProxy;
  server: LocalServer;
  direct: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

export async function startSlowStore(env: Record<string, string> = {}): Promise<SlowStore> {
  const proxy = await startDelayProxy(inject('dynamoEndpoint'));
  const suffix = randomUUID().slice(0, 8);
  const server = await startLocalServer({
    dynamoEndpoint: proxy.endpoint,
    env: {
      TOKEN_TABLE_NAME: `slow-tokens-${suffix}`,
      USERS_TABLE_NAME: `slow-users-${suffix}`,
      KILL_SWITCH_PARAMETER_NAME: `/password-reset/slow-${suffix}/kill-switch`,
      ...env,
    },
  });
  const direct = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: inject('dynamoEndpoint') }));
  // startLocalServer primed the request path; confirm's first call still pays its lazy SDK
  // set-up, which a user never sees twice.
  await postFrom(server.url, '127.0.0.1', ROUTES.confirm, { token: 'x'.repeat(40), newPassword: 'x' });
  return {
    proxy,
    server,
    direct,
    stop: async () => {
      await server.stop();
      await proxy.close();
      direct.destroy();
    },
  };
}

/** The user's stored hash and credentialVersion, read consistently past the proxy. */
export async function storedUser(store: SlowStore, userId: string) {
  const found = await store.direct.send(
    new GetCommand({ TableName: store.server.config.usersTableName, Key: { userId }, ConsistentRead: true }),
  );
  return {
    passwordHash: String(found.Item?.passwordHash),
    version: Number(found.Item?.credentialVersion ?? 0),
  };
}
