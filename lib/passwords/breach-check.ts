import { createHash } from 'node:crypto';

/**
 * Have I Been Pwned's k-anonymity range API: only the first 5 hex characters of the password's
 * SHA-1 leave the function, and Add-Padding makes every answer a similar size, so neither the
 * password nor whether it matched can be read off the wire. Unreachable or slow means "not
 * known to be breached" (fail open, with a metric and a log line): an outage of a third party
 * must not stop resets, and the other password rules still apply.
 */
export type CheckBreached = (password: string) => Promise<boolean>;

export interface BreachCheckOptions {
  /** e.g. https://api.pwnedpasswords.com; tests point it at a local stand-in. */
  baseUrl: string;
  timeoutMs: number;
  onUnavailable: (reason: 'timeout' | 'network' | 'bad_status' | 'bad_body') => void;
  fetch?: typeof fetch;
}

const SUFFIX_LINE = /^([0-9A-F]{35}):(\d+)$/;

export function createBreachCheck(options: BreachCheckOptions): CheckBreached {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/+$/, '');
  return async (password) => {
    const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const prefix = digest.slice(0, 5);
    const suffix = digest.slice(5);
    let body: string;
    try {
      const response = await doFetch(`${base}/range/${prefix}`, {
        headers: { 'Add-Padding': 'true', 'User-Agent': 'password-reset-service' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (!response.ok) {
        options.onUnavailable('bad_status');
        return false;
      }
      body = await response.text();
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      options.onUnavailable(timedOut ? 'timeout' : 'network');
      return false;
    }
    let parsedLines = 0;
    for (const line of body.split('\n')) {
      const match = SUFFIX_LINE.exec(line.trim());
      if (!match) continue;
      parsedLines++;
      // Padding entries carry a count of 0: they are not breached passwords.
      if (match[1] === suffix && Number(match[2]) > 0) return true;
    }
    if (parsedLines === 0) options.onUnavailable('bad_body');
    return false;
  };
}
