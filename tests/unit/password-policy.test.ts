import { describe, expect, it } from 'vitest';
import { commonPasswordCount, isCommonPassword } from '../../lib/passwords/common-passwords';
import { checkPassword, type PasswordPolicyOptions } from '../../lib/passwords/password-policy';

const nist: PasswordPolicyOptions = { minLength: 15, maxLength: 64, compositionRules: false };
const context = { email: 'jane.doe@example.com', isCommon: isCommonPassword };
const rules = (password: string, options = nist) =>
  checkPassword(password, options, context).map((v) => v.rule);

describe('password policy', () => {
  it('accepts a long passphrase with no composition rules', () => {
    expect(rules('purple monkey dishwasher')).toEqual([]);
  });

  it('counts characters as code points, not UTF-16 units', () => {
    const emoji = '🔐'.repeat(15);

    expect(emoji.length).toBe(30);
    expect(rules(emoji)).toEqual([]);
    expect(rules('🔐'.repeat(14))).toEqual(['min_length']);
  });

  it('names min_length and not_common for "password"', () => {
    expect(rules('password')).toEqual(['min_length', 'not_common']);
  });

  it('refuses more than 64 characters', () => {
    expect(rules('x'.repeat(65))).toContain('max_length');
  });

  it('refuses passwords that bcrypt would truncate at 72 bytes', () => {
    const multiByte = 'é'.repeat(40); // 40 characters, 80 bytes

    expect(rules(multiByte)).toEqual(['max_bytes']);
  });

  it('refuses common passwords from the bundled list, ignoring case', () => {
    expect(commonPasswordCount).toBeGreaterThan(40_000);
    expect(isCommonPassword('Password')).toBe(true);
    expect(rules('1qaz2wsx3edc4rfv')).toEqual(['not_common']);
    expect(rules('Password123', { ...nist, minLength: 8 })).toEqual(['not_common']);
  });

  it('refuses the email address or its local part', () => {
    expect(rules('my JANE.DOE@example.com pass')).toContain('not_email');
    expect(rules('xx jane.doe is my name xx')).toContain('not_email');
  });

  it('refuses control characters and lone surrogates', () => {
    expect(rules('long enough password\u0000')).toContain('no_control_characters');
    expect(rules('long enough password\u0085')).toContain('no_control_characters');
    expect(rules('long enough password\uD800')).toContain('well_formed');
  });

  it('applies composition rules only when switched on', () => {
    const composed = { ...nist, compositionRules: true };

    expect(rules('all lowercase words here', composed)).toEqual(['needs_uppercase', 'needs_digit']);
    expect(rules('Mixed Case words 42 here!', composed)).toEqual([]);
  });

  it('explains every rule it reports', () => {
    const violations = checkPassword('abc', { ...nist, compositionRules: true }, context);

    expect(violations.length).toBeGreaterThan(2);
    for (const violation of violations) expect(violation.message.length).toBeGreaterThan(5);
  });
});
