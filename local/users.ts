import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { compare, hash } from 'bcryptjs';
import type { Config } from '../lib/config';
import { normalizeEmail } from '../lib/users/email-address';
import { UserStore } from '../lib/users/user-store';

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

  /**
   * Changes the address or the password as the marketplace's settings page would: a password
   * change sets passwordChangedAt and increments credentialVersion, like a reset does.
   */
  async update(change: {
    email: string;
    newEmail?: string | undefined;
    newPassword?: string | undefined;
  }): Promise<{ userId: string; credentialVersion: number } | null> {
    const user = await this.users.findByEmail(normalizeEmail(change.email));
    if (!user) return null;
    const sets: string[] = [];
    const values: Record<string, unknown> = {};
    if (change.newEmail) {
      sets.push('email = :email');
      values[':email'] = normalizeEmail(change.newEmail);
    }
    let add = '';
    if (change.newPassword) {
      sets.push('passwordHash = :hash', 'passwordChangedAt = :at');
      values[':hash'] = await hash(change.newPassword, this.config.bcryptCost);
      values[':at'] = new Date().toISOString();
      add = ' ADD credentialVersion :one';
      values[':one'] = 1;
    }
    if (sets.length === 0) return { userId: user.userId, credentialVersion: await this.version(user.userId) };
    await this.client.send(
      new UpdateCommand({
        TableName: this.config.usersTableName,
        Key: { userId: user.userId },
        UpdateExpression: `SET ${sets.join(', ')}${add}`,
        ExpressionAttributeValues: values,
      }),
    );
    return { userId: user.userId, credentialVersion: await this.version(user.userId) };
  }

  private async version(userId: string): Promise<number> {
    return Number((await this.get(userId))?.credentialVersion ?? 0);
  }

  async get(userId: string): Promise<Record<string, unknown> | undefined> {
    const found = await this.client.send(
      new GetCommand({ TableName: this.config.usersTableName, Key: { userId }, ConsistentRead: true }),
    );
    return found.Item;
  }
}
