import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

const minimal = {
  TOKEN_TABLE_NAME: 'tokens',
  USERS_TABLE_NAME: 'users',
  KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
};

describe('config', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);

    expect(config.tokenTtlMinutes).toBe(15);
    expect(config.bcryptCost).toBe(12);
    expect(config.killSwitchCacheSeconds).toBe(30);
    expect(config.passwordPolicy).toEqual({
      minLength: 15,
      maxLength: 64,
      compositionRules: false,
      contextWords: [],
    });
    expect(config.breachCheck).toEqual({
      mode: 'off',
      baseUrl: 'https://api.pwnedpasswords.com',
      timeoutMs: 1000,
    });
    expect(config.rateLimits.requestPerAccount).toEqual([
      { limit: 1, windowSeconds: 60 },
      { limit: 3, windowSeconds: 3600 },
    ]);
    expect(config.usersEmailIndexName).toBe('email-index');
  });

  it('parses rate rules with units', () => {
    const config = loadConfig({ ...minimal, RATE_LIMIT_REQUEST_IP: '5/30s, 50/2h' });

    expect(config.rateLimits.requestPerIp).toEqual([
      { limit: 5, windowSeconds: 30 },
      { limit: 50, windowSeconds: 7200 },
    ]);
  });

  it.each([
    [{ TOKEN_TABLE_NAME: undefined }, 'TOKEN_TABLE_NAME'],
    [{ TOKEN_TABLE_NAME: '' }, 'TOKEN_TABLE_NAME'],
    [{ TOKEN_TTL_MINUTES: '61' }, 'TOKEN_TTL_MINUTES'],
    // One counter per window in the key's item: two rules cannot share one.
    [{ RATE_LIMIT_REQUEST_ACCOUNT: '1/60s,3/1m' }, 'RATE_LIMIT_REQUEST_ACCOUNT'],
    [
      { RESET_JOB_RETRY_BASE_SECONDS: '30', RESET_JOB_RETRY_MAX_SECONDS: '10' },
      'RESET_JOB_RETRY_MAX_SECONDS',
    ],
    [{ TOKEN_TTL_MINUTES: '4' }, 'TOKEN_TTL_MINUTES'],
    [{ PASSWORD_MIN_LENGTH: '7' }, 'PASSWORD_MIN_LENGTH'],
    [{ RESET_LINK_TEMPLATE: 'https://market.example.com/reset' }, 'RESET_LINK_TEMPLATE'],
    [{ RESET_LINK_TEMPLATE: 'http://market.example.com/#token={token}' }, 'RESET_LINK_TEMPLATE'],
    // The token must sit in the fragment: a query or path reaches server logs and Referer.
    [{ RESET_LINK_TEMPLATE: 'https://market.example.com/reset?token={token}' }, 'RESET_LINK_TEMPLATE'],
    [{ RESET_LINK_TEMPLATE: 'https://market.example.com/reset/{token}#x' }, 'RESET_LINK_TEMPLATE'],
    [
      { RESET_LINK_TEMPLATE: 'https://market.example.com/r#token={token}&again={token}' },
      'RESET_LINK_TEMPLATE',
    ],
    [{ RATE_LIMIT_CONFIRM_IP: 'ten per minute' }, 'RATE_LIMIT_CONFIRM_IP'],
    [{ PASSWORD_COMPOSITION_RULES: 'yes' }, 'PASSWORD_COMPOSITION_RULES'],
    [{ KILL_SWITCH_PARAMETER_NAME: 'no-slash' }, 'KILL_SWITCH_PARAMETER_NAME'],
  ])('fails fast naming the bad setting (%j)', (override, name) => {
    expect(() => loadConfig({ ...minimal, ...override })).toThrowError(ConfigError);
    expect(() => loadConfig({ ...minimal, ...override })).toThrowError(name);
  });

  it('allows a plain http link for localhost only', () => {
    expect(
      loadConfig({ ...minimal, RESET_LINK_TEMPLATE: 'http://localhost:3000/r#token={token}' })
        .resetLinkTemplate,
    ).toContain('localhost');
  });
});
