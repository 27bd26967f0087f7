import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * About 49,000 common passwords from zxcvbn-ts, bundled with the code (no network at run time).
 * The package decompresses the list when imported, so only the confirm path imports this module.
 */
const COMMON = new Set((dictionary['passwords-common'] ?? []).map((entry) => entry.toLowerCase()));

export function isCommonPassword(password: string): boolean {
  return COMMON.has(password.toLowerCase());
}

export const commonPasswordCount = COMMON.size;
