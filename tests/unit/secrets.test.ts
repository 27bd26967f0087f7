import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { resolveSecretSettings, type SecretReader } from '../../lib/secrets';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AccountKeySecret-AbCdEf';
const ORIGIN_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:OriginVerifySecret-AbCdEf';
const minimal = {
  TOKEN_TABLE_NAME: 'tokens',
  USERS_TABLE_NAME: 'users',
  KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
};
const reader = (values: Record<string, unknown>) => {
  const calls: Array<{ name: string; maxAge: number }> = [];
  const read: SecretReader = {
    get: async (name, options) => {
      calls.push({ name, maxAge: options.maxAge });
      return values[name];
    },
  };
  return { read, calls };
};

describe('secret settings', () => {
  it('fills the account-key salt from Secrets Manager, with a cache age', async () => {
    const { read, calls } = reader({ [ARN]: 'k'.repeat(64) });

    const env = await resolveSecretSettings({ ...minimal, ACCOUNT_KEY_SECRET_ARN: ARN }, read);

    expect(env.ACCOUNT_KEY_SALT).toBe('k'.repeat(64));
    expect(loadConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'confirm' }).accountKeySalt).toBe('k'.repeat(64));
    expect(calls).toEqual([{ name: ARN, maxAge: 900 }]);
  });

  it('fills the origin secret when edge protection gives its ARN', async () => {
    const { read } = reader({ [ARN]: 'k'.repeat(64), [ORIGIN_ARN]: 'o'.repeat(48) });

    const env = await resolveSecretSettings(
      { ...minimal, ACCOUNT_KEY_SECRET_ARN: ARN, ORIGIN_VERIFY_SECRET_ARN: ORIGIN_ARN },
      read,
    );

    expect(loadConfig(env).originVerifySecret).toBe('o'.repeat(48));
  });

  it.each([[''], ['   '], [undefined], [new Uint8Array([1, 2])]])(
    'refuses an empty or non-text secret (%s)',
    async (value) => {
      const { read } = reader({ [ARN]: value });

      await expect(
        resolveSecretSettings({ ...minimal, ACCOUNT_KEY_SECRET_ARN: ARN }, read),
      ).rejects.toThrowError(/ACCOUNT_KEY_SECRET_ARN: the secret holds no value/);
    },
  );

  it('reads nothing when no secret ARN is set', async () => {
    const { read, calls } = reader({});

    await resolveSecretSettings(minimal, read);

    expect(calls).toEqual([]);
  });

  it('refuses the public built-in salt inside Lambda', () => {
    expect(() => loadConfig({ ...minimal, AWS_LAMBDA_FUNCTION_NAME: 'request' })).toThrowError(ConfigError);
    expect(() =>
      loadConfig({ ...minimal, AWS_LAMBDA_FUNCTION_NAME: 'request', ACCOUNT_KEY_SALT: '' }),
    ).toThrowError(/ACCOUNT_KEY_SALT: required in Lambda/);
  });
});
