import { truncates } from 'bcryptjs';

/**
 * Password rules after NIST SP 800-63B rev 4: length over composition, a blocklist of
 * common passwords, and nothing derived from the account. Composition rules exist only
 * for operators whose existing policy requires them.
 */
export interface PasswordPolicyOptions {
  minLength: number;
  maxLength: number;
  compositionRules: boolean;
}

export type PasswordRule =
  | 'min_length'
  | 'max_length'
  | 'max_bytes'
  | 'well_formed'
  | 'no_control_characters'
  | 'not_common'
  | 'not_email'
  | 'needs_lowercase'
  | 'needs_uppercase'
  | 'needs_digit'
  | 'needs_symbol';

export interface PolicyViolation {
  rule: PasswordRule;
  message: string;
}

export interface PasswordContext {
  email: string;
  isCommon: (password: string) => boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0 and C1 control characters. Spaces and all printable Unicode stay allowed.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
/** A local part shorter than this would reject far too much (e.g. "a@example.com"). */
const MIN_LOCAL_PART = 3;

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
  if (context.isCommon(password)) fail('not_common', 'This password is too common.');
  if (containsEmail(password, context.email))
    fail('not_email', 'Do not use your email address in the password.');

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
