import { describe, expect, it } from 'vitest';
import { bcryptEstimateMs } from '../../infra/settings';
import { PROD_CONTEXT, synth } from './synth';

describe('settings checked at synth', () => {
  it('synthesizes the full prod example', () => {
    const { stack } = synth(PROD_CONTEXT);

    expect(stack.stackName).toBe('PasswordReset-prod');
  });

  it('refuses the reset link template of the issue, naming the context key and the rule', () => {
    const bad = { ...PROD_CONTEXT, resetLinkTemplate: 'http://evil.example.com/reset' };

    expect(() => synth(bad)).toThrowError(
      /resetLinkTemplate \(RESET_LINK_TEMPLATE\): must contain the \{token\}/,
    );
    expect(() => synth(bad)).toThrowError(/resetLinkTemplate \(RESET_LINK_TEMPLATE\): must be an https URL/);
  });

  it('checks runtime settings with the functions own schema, naming the context key', () => {
    expect(() => synth({ rateLimitRequestIp: '20 per minute' })).toThrowError(
      /rateLimitRequestIp \(RATE_LIMIT_REQUEST_IP\): "20 per minute" is not of the form COUNT\/WINDOW/,
    );
    expect(() => synth({ killSwitchCacheSeconds: '0' })).toThrowError(
      /killSwitchCacheSeconds \(KILL_SWITCH_CACHE_SECONDS\)/,
    );
    expect(() => synth({ passwordMinLength: '20', passwordMaxLength: '16' })).toThrowError(
      /passwordMaxLength \(PASSWORD_MAX_LENGTH\): must not be below PASSWORD_MIN_LENGTH/,
    );
    expect(() => synth({ passwordCompositionRules: 'yes' })).toThrowError(/passwordCompositionRules/);
    expect(() => synth({ resetMethods: 'sms' })).toThrowError(
      /resetMethods \(RESET_METHODS\): must be link, code, or link,code/,
    );
    expect(() => synth({ resetCodeTtlMinutes: '30' })).toThrowError(
      /resetCodeTtlMinutes \(RESET_CODE_TTL_MINUTES\)/,
    );
  });

  it('requires an SNS topic ARN for alarms in prod', () => {
    const { alarmTopicArn: _, ...withoutTopic } = PROD_CONTEXT;

    expect(() => synth(withoutTopic)).toThrowError(/alarmTopicArn is required for stage=prod/);
    expect(() =>
      synth({ ...PROD_CONTEXT, alarmTopicArn: 'arn:aws:lambda:eu-west-1:123456789012:function:oncall' }),
    ).toThrowError(/alarmTopicArn: must be an SNS topic ARN/);
  });

  it('requires account and region in prod, and checks their form', () => {
    const { account: _a, ...withoutAccount } = PROD_CONTEXT;
    const { region: _r, ...withoutRegion } = PROD_CONTEXT;

    expect(() => synth(withoutAccount)).toThrowError(/account and region are required for stage=prod/);
    expect(() => synth(withoutRegion)).toThrowError(/account and region are required for stage=prod/);
    expect(() => synth({ ...PROD_CONTEXT, account: '1234' })).toThrowError(/account: must be a 12-digit/);
  });

  it('refuses a bcrypt cost the confirm function cannot afford in its memory and timeout', () => {
    expect(() => synth({ bcryptCost: '15', confirmMemoryMb: '512' })).toThrowError(
      /bcryptCost 15 needs about \d+ ms per hash at confirmMemoryMb 512.*Raise confirmMemoryMb or confirmTimeoutSeconds/,
    );
    expect(() =>
      synth({ bcryptCost: '15', confirmMemoryMb: '3008', confirmTimeoutSeconds: '15' }),
    ).not.toThrow();
  });

  it('estimates bcrypt from the measured cost-12 time, doubling per cost step and scaling with the CPU share', () => {
    expect(bcryptEstimateMs(12, 1769)).toBe(340);
    expect(bcryptEstimateMs(13, 1769)).toBe(680);
    expect(bcryptEstimateMs(12, 3538)).toBe(340);
    expect(bcryptEstimateMs(12, 884.5)).toBe(680);
  });

  it('needs a table name for an imported index or key', () => {
    expect(() => synth({ existingUsersEmailIndexName: 'by-email' })).toThrowError(
      /needs existingUsersTableName/,
    );
    expect(() =>
      synth({
        existingUsersTableKeyArn:
          'arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d',
      }),
    ).toThrowError(/needs existingUsersTableName/);
  });
});
