import { describe, expect, it } from 'vitest';
import { hashVerifier, issueToken, parseToken, verifierMatches } from '../../lib/tokens/token';

describe('reset tokens', () => {
  it('issues a selector and a 256-bit verifier, and stores only the verifier hash', () => {
    const token = issueToken();

    const parsed = parseToken(token.value);

    expect(parsed).not.toBeNull();
    expect(Buffer.from(parsed?.verifier ?? '', 'base64url')).toHaveLength(32);
    expect(Buffer.from(token.selector, 'base64url')).toHaveLength(16);
    expect(token.verifierHash).toBe(hashVerifier(parsed?.verifier ?? ''));
    expect(token.verifierHash).not.toContain(parsed?.verifier);
  });

  it('draws every token from the random source', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => issueToken().value));

    expect(seen.size).toBe(1000);
  });

  it('matches the right verifier and rejects any other', () => {
    const token = issueToken();
    const verifier = parseToken(token.value)?.verifier ?? '';

    expect(verifierMatches(verifier, token.verifierHash)).toBe(true);
    expect(verifierMatches(`${verifier.slice(0, -1)}A`, token.verifierHash)).toBe(verifier.endsWith('A'));
    expect(verifierMatches('short', token.verifierHash)).toBe(false);
    expect(verifierMatches(verifier, 'not-a-hash')).toBe(false);
  });

  it.each([
    '',
    'abc',
    'a'.repeat(66),
    `${'a'.repeat(22)}.${'b'.repeat(42)}`,
    `${'a'.repeat(22)}.${'b'.repeat(43)}x`,
    `${'a'.repeat(22)}.${'b'.repeat(42)}=`,
    `${'a'.repeat(22)}:${'b'.repeat(43)}`,
  ])('refuses %j as a token shape', (value) => {
    expect(parseToken(value)).toBeNull();
  });
});
