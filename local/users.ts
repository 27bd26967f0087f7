import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { compare, hash } from 'bcryptjs';
import type { Config } from '../lib/config';
import { normalizeEmail, UserStore } from '../lib/users/user-store';

/**
 * Local stand-ins for the marketplace's own sign-up and login, which own the users table in
 * production. They hash and verify with bcrypt exactly as an existing login would, so a test
 * can show the old password failing and the new one working.
 */
export class LocalAccounts {
  private readonly users: UserStore;
  /** Compared against when the email is unknown, so login timing does not reveal accounts. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly config: Config,
  ) {
    this.users = new UserStore(client, config.usersTableName, config.usersEmailIndexName);
    this.dummyHash = hash('not-a-real-password', config.bcryptCost);
  }

  /** `cost` overrides the configured bcrypt cost, e.g. to seed many benchmark users quickly. */
  async create(
    email: string,
    password: string,
    cost = this.config.bcryptCost,
  ): Promise<{ userId: string } | { conflict: true }> {
    const normalized = normalizeEmail(email);
    if (await this.users.findByEmail(normalized)) return { conflict: true };
    const userId = randomUUID();
    await this.client.send(
      new PutCommand({
        TableName: this.config.usersTableName,
        Item: {
          userId,
          email: normalized,
          passwordHash: await hash(password, cost),
          credentialVersion: 0,
          createdAt: new Date().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(userId)',
      }),
    );
    return { userId };
  }

  async login(
    email: string,
    password: string,
  ): Promise<{ userId: string; credentialVersion: number } | null> {
    const user = await this.users.findByEmail(normalizeEmail(email));
    if (!user) {
      await compare(password, await this.dummyHash);
      return null;
    }
    const record = await this.get(user.userId);
    const ok = typeof record?.passwordHash === 'string' && (await compare(password, record.passwordHash));
    return ok ? { userId: user.userId, credentialVersion: Number(record?.credentialVersion ?? 0) } : null;
  }

  async get(userId: string): Promise<Record<string, unknown> | undefined> {
    const found = await this.client.send(
      new GetCommand({ TableName: this.config.usersTableName, Key: { userId }, ConsistentRead: true }),
    );
    return found.Item;
  }
}
