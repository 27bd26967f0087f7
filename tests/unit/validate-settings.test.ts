import { describe, expect, it } from 'vitest';
import { validateSettings } from '../../lib/config';

const minimal = {
  TOKEN_TABLE_NAME: 'tokens',
  USERS_TABLE_NAME: 'users',
  KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
};

describe('validateSettings', () => {
  it('finds nothing wrong with a valid environment', () => {
    expect(validateSettings(minimal)).toEqual([]);
  });

  it('lists every bad setting by its variable name, as loadConfig would refuse them', () => {
    const issues = validateSettings({
      ...minimal,
      RESET_LINK_TEMPLATE: 'http://evil.example.com/reset',
      TOKEN_TTL_MINUTES: '600',
    });

    // The link breaks three rules: no {token}, nothing in a fragment, and not https.
    expect(issues.map((issue) => issue.setting).sort()).toEqual([
      'RESET_LINK_TEMPLATE',
      'RESET_LINK_TEMPLATE',
      'RESET_LINK_TEMPLATE',
      'TOKEN_TTL_MINUTES',
    ]);
  });

  it('reports the cross-setting checks too, naming the first setting', () => {
    expect(validateSettings({ ...minimal, PASSWORD_MIN_LENGTH: '40', PASSWORD_MAX_LENGTH: '20' })).toEqual([
      {
        setting: 'PASSWORD_MAX_LENGTH',
        message: 'PASSWORD_MAX_LENGTH must not be below PASSWORD_MIN_LENGTH',
      },
    ]);
  });

  it('treats an empty value as unset, so a required one is reported missing', () => {
    expect(validateSettings({ ...minimal, TOKEN_TABLE_NAME: '' }).map((issue) => issue.setting)).toEqual([
      'TOKEN_TABLE_NAME',
    ]);
  });
});
