import { describe, expect, it } from 'vitest';
import {
  codeMatches,
  createCodeHasher,
  flowKey,
  generateCode,
  isFlowId,
  newFlowId,
  phantomCodeHash,
} from '../../lib/codes/code';
import { loadConfig, validateSettings } from '../../lib/config';
import { createPseudonymizer } from '../../lib/pseudonym';

const minimal = {
  TOKEN_TABLE_NAME: 'tokens',
  USERS_TABLE_NAME: 'users',
  KILL_SWITCH_PARAMETER_NAME: '/reset/kill-switch',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
};

/** Feeds fixed 48-bit draws, then fails loudly if more are asked for. */
const draws = (...values: number[]) => {
  const queue = [...values];
  return (size: number) => {
    const value = queue.shift();
    if (value === undefined) throw new Error('no more draws');
    const bytes = Buffer.alloc(size);
    bytes.writeUIntBE(value, 0, 6);
    return bytes;
  };
};

describe('generateCode', () => {
  it('pads to the configured length', () => {
    expect(generateCode(draws(42), 8)).toBe('00000042');
    expect(generateCode(draws(7), 6)).toBe('000007');
  });

  it('throws away draws at or above the largest multiple of 10^length (no modulo bias)', () => {
    const limit = Math.floor(2 ** 48 / 1e8) * 1e8;

    expect(generateCode(draws(limit, 2 ** 48 - 1, limit - 1), 8)).toBe(String((limit - 1) % 1e8));
  });

  it('draws every digit about equally often from the real CSPRNG', () => {
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 5000; i++)
      for (const digit of generateCode((n) => crypto.getRandomValues(new Uint8Array(n)), 10))
        counts[Number(digit)]++;

    // 50,000 digits: each expected 5,000; 4.5 standard deviations is about 300.
    for (const count of counts) expect(Math.abs(count - 5000)).toBeLessThan(300);
  });
});

describe('code hashing', () => {
  const hash = createCodeHasher('a deployment secret');

  it('binds the code to its flow', () => {
    expect(hash('flow-a', '12345678')).not.toBe(hash('flow-b', '12345678'));
    expect(codeMatches(hash('flow-a', '12345678'), hash('flow-a', '12345678'))).toBe(true);
    expect(codeMatches(hash('flow-a', '12345679'), hash('flow-a', '12345678'))).toBe(false);
  });

  it('needs the secret: another secret gives another value', () => {
    expect(createCodeHasher('another secret')('flow-a', '12345678')).not.toBe(hash('flow-a', '12345678'));
  });

  it('uses a key of its own, not the pseudonymizer key', () => {
    const pseudonym = createPseudonymizer('a deployment secret');

    expect(hash('account', 'x')).not.toContain(pseudonym('account', 'flow-a:12345678'));
  });

  it('stores phantoms that look like a code hash and match no code', () => {
    const phantom = phantomCodeHash((n) => new Uint8Array(n).fill(7));

    expect(phantom).toHaveLength(hash('f', '1').length);
    expect(codeMatches(hash('f', '00000000'), phantom)).toBe(false);
  });
});

describe('flow ids', () => {
  it('are 22 base64url characters and keyed by their hash', () => {
    const flowId = newFlowId((n) => new Uint8Array(n).fill(1));

    expect(isFlowId(flowId)).toBe(true);
    expect(isFlowId(`${flowId}=`)).toBe(false);
    expect(flowKey(flowId)).not.toContain(flowId);
  });
});

describe('code settings', () => {
  it('default to links only, 8 digits, 10 minutes, 5 attempts, 10 failures per account a day', () => {
    const config = loadConfig(minimal);

    expect(config.resetMethods).toEqual(['link']);
    expect(config.codes).toEqual({ length: 8, ttlMinutes: 10, maxAttempts: 5 });
    expect(config.rateLimits.codeFailuresPerAccount).toEqual([{ limit: 10, windowSeconds: 86_400 }]);
  });

  it('accept link, code and both, in either order', () => {
    expect(loadConfig({ ...minimal, RESET_METHODS: 'code' }).resetMethods).toEqual(['code']);
    expect(loadConfig({ ...minimal, RESET_METHODS: 'link,code' }).resetMethods).toEqual(['link', 'code']);
    expect(loadConfig({ ...minimal, RESET_METHODS: 'code, link' }).resetMethods).toEqual(['code', 'link']);
  });

  it.each([
    ['RESET_METHODS', 'sms'],
    ['RESET_METHODS', 'link,link'],
    ['RESET_METHODS', 'link,'],
    ['RESET_CODE_LENGTH', '5'],
    ['RESET_CODE_LENGTH', '11'],
    ['RESET_CODE_TTL_MINUTES', '16'],
    ['RESET_CODE_MAX_ATTEMPTS', '0'],
    ['RATE_LIMIT_CODE_FAILURES_ACCOUNT', '10/2d'],
  ])('fails the cold start naming %s for %s', (setting, value) => {
    expect(() => loadConfig({ ...minimal, [setting]: value })).toThrow(setting);
    expect(validateSettings({ ...minimal, [setting]: value })[0]?.setting).toBe(setting);
  });
});
