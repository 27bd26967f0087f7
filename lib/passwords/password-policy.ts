import { truncates } from 'bcryptjs';
import { estimateStrength, MIN_STRENGTH_BITS, type PatternRule, unleet } from './password-strength';

/**
 * Password rules after NIST SP 800-63B rev 4: length over composition, no common,
 * repetitive, sequential or keyboard-walk passwords (however long), and nothing derived from
 * the account or the service. Composition rules exist only
 * for operators whose existing policy requires them.
 */
export interface PasswordPolicyOptions {
  minLength: number;
  maxLength: number;
  compositionRules: boolean;
  /** Operator words no password may contain, lowercased (PASSWORD_CONTEXT_WORDS). */
  contextWords: readonly string[];
}

export type PasswordRule =
  | 'min_length'
  | 'max_length'
  | 'max_bytes'
  | 'well_formed'
  | 'no_control_characters'
  | 'not_common'
  | 'not_email'
  | 'not_visible'
  | 'context_word'
  | PatternRule
  | 'predictable'
  | 'breached'
  | 'needs_lowercase'
  | 'needs_uppercase'
  | 'needs_digit'
  | 'needs_symbol';

export interface PolicyViolation {
  rule: PasswordRule;
  message: string;
}

export interface PasswordContext {
  /** Absent before the account is known (a code's first check): the email rule then waits. */
  email?: string | undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0 and C1 control characters. Spaces and all printable Unicode stay allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
// Whitespace, line and paragraph separators, and format characters (zero-width and the like).
const INVISIBLE = /[\p{Zs}\p{Zl}\p{Zp}\p{Cf}]/gu;
/** A local part shorter than this would reject far too much (e.g. "a@example.com"). */
const MIN_LOCAL_PART = 3;
const PATTERN_MESSAGES: Record<PatternRule | 'predictable', string> = {
  repetitive: 'Avoid repeated characters or blocks (aaaa, abcabc, passwordpassword).',
  sequential: 'Avoid sequences such as 12345 or abcde.',
  keyboard_pattern: 'Avoid keyboard patterns such as qwerty or 1q2w3e.',
  common_words: 'Avoid common passwords, even with digits, symbols or leetspeak added.',
  predictable: 'This password is too easy to guess. Try several unrelated words.',
};

export function checkPassword(
  password: string,
  options: PasswordPolicyOptions,
  context: PasswordContext,
): PolicyViolation[] {
  const violations: PolicyViolation[] = [];
  const fail = (rule: PasswordRule, message: string) => violations.push({ rule, message });
  // Length counts Unicode code points, not UTF-16 units, as NIST asks.
  const length = [...password].length;

  if (length < options.minLength) fail('min_length', `Use at least ${options.minLength} characters.`);
  if (length > options.maxLength) fail('max_length', `Use at most ${options.maxLength} characters.`);
  // bcrypt silently ignores everything past 72 bytes; refuse rather than store a weaker secret.
  if (truncates(password))
    fail('max_bytes', 'Use at most 72 bytes of UTF-8 (fewer characters outside ASCII).');
  if (LONE_SURROGATE.test(password)) fail('well_formed', 'The password contains invalid Unicode.');
  if (CONTROL.test(password)) fail('no_control_characters', 'Control characters are not allowed.');
  if (password.replace(INVISIBLE, '') === '' && password !== '')
    fail('not_visible', 'Use visible characters, not only spaces or invisible characters.');
  if (context.email !== undefined && containsEmail(password, context.email))
    fail('not_email', 'Do not use your email address in the password.');
  const spellings = [password.toLowerCase(), ...unleet(password)];
  const contextWord = options.contextWords.some((word) => spellings.some((s) => s.includes(word)));
  if (contextWord) fail('context_word', 'Do not use the name of this site or service in the password.');
  if (length <= options.maxLength && !violations.some((v) => v.rule === 'not_visible')) {
    // Bounded by the length cap: the estimate is quadratic in the length.
    const estimate = estimateStrength(password, options.contextWords);
    if (estimate.bits < MIN_STRENGTH_BITS) {
      // "predictable" only when nothing else explains the refusal: it adds no advice of its own.
      const fallback = violations.length === 0 ? (['predictable'] as const) : [];
      const patterns = estimate.patterns.length > 0 ? estimate.patterns : fallback;
      for (const rule of patterns) fail(rule, PATTERN_MESSAGES[rule]);
    }
  }

  if (options.compositionRules) {
    if (!/\p{Ll}/u.test(password)) fail('needs_lowercase', 'Include a lowercase letter.');
    if (!/\p{Lu}/u.test(password)) fail('needs_uppercase', 'Include an uppercase letter.');
    if (!/\p{Nd}/u.test(password)) fail('needs_digit', 'Include a digit.');
    if (!/[^\p{L}\p{Nd}]/u.test(password)) fail('needs_symbol', 'Include a symbol.');
  }
  return violations;
}

function containsEmail(password: string, email: string): boolean {
  const lowered = password.toLowerCase();
  const address = email.toLowerCase();
  const localPart = address.split('@')[0] ?? '';
  return lowered.includes(address) || (localPart.length >= MIN_LOCAL_PART && lowered.includes(localPart));
}
