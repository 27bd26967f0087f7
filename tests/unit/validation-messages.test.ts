import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { confirmLinkBody, requestResetBody } from '../../lib/http/schemas';

// zod/mini has no messages of its own ("Invalid input" for everything); lib/zod-messages.ts loads them.
describe('validation messages', () => {
  it('says what a request body field broke, in words', () => {
    const parsed = requestResetBody.safeParse({ email: 'ab' });

    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'Too small: expected string to have >=3 characters',
    ]);
  });

  it('names the expected type and the unknown key', () => {
    const parsed = confirmLinkBody.safeParse({ token: 1, newPassword: 'x', extra: true });

    expect(parsed.error?.issues.map((issue) => issue.message)).toEqual([
      'Invalid input: expected string, received number',
      'Unrecognized key: "extra"',
    ]);
  });

  it('says which bound a numeric setting broke', () => {
    const load = () =>
      loadConfig({
        TOKEN_TABLE_NAME: 'tokens',
        USERS_TABLE_NAME: 'users',
        KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
        RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
        TOKEN_TTL_MINUTES: '61',
      });

    expect(load).toThrowError('TOKEN_TTL_MINUTES: Too big: expected number to be <=60');
  });
});
