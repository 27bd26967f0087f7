import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isCredentialCurrent } from '../../lib/events/credential-check';

const CHANGED = '2026-11-23T08:00:00.500Z';
const user = { passwordChangedAt: CHANGED, credentialVersion: 2 };

describe('isCredentialCurrent', () => {
  it('accepts a credential issued after the last password change', () => {
    expect(isCredentialCurrent(new Date('2026-11-23T08:05:00Z'), user)).toBe(true);
  });

  it('rejects a credential issued before the last password change', () => {
    expect(isCredentialCurrent(new Date('2026-11-23T07:59:59Z'), user)).toBe(false);
  });

  it("compares at whole seconds, so a JWT iat from the change's own second is accepted", () => {
    expect(isCredentialCurrent(new Date('2026-11-23T08:00:00Z'), user)).toBe(true);
  });

  it('rejects a credential stamped with a stale credentialVersion, whatever its date', () => {
    expect(isCredentialCurrent(new Date('2026-11-23T09:00:00Z'), user, { credentialVersion: 1 })).toBe(false);
    expect(isCredentialCurrent(new Date('2026-11-23T09:00:00Z'), user, { credentialVersion: 2 })).toBe(true);
  });

  it('treats a user who never changed the password as version 0 with no cut-off', () => {
    expect(isCredentialCurrent(new Date(0), {}, { credentialVersion: 0 })).toBe(true);
    expect(isCredentialCurrent(new Date(0), {}, { credentialVersion: 1 })).toBe(false);
  });

  it('fails closed on invalid dates', () => {
    expect(isCredentialCurrent(new Date('nonsense'), user)).toBe(false);
    expect(isCredentialCurrent(new Date(), { passwordChangedAt: 'nonsense' })).toBe(false);
  });
});

describe("the README's token-issuer example", () => {
  it('runs as written and rejects the session from before the reset', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block =
      /<!-- token-issuer-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- token-issuer-example:end -->/.exec(
        readme,
      )?.[1];
    expect(block, 'README example block').toBeDefined();
    const helper = resolve('lib/events/credential-check.ts');
    const file = join(mkdtempSync(join(tmpdir(), 'readme-example-')), 'example.ts');
    writeFileSync(file, (block as string).replace("'./lib/events/credential-check'", JSON.stringify(helper)));

    const example = (await import(file)) as {
      checkSession(session: { iat: number; cv: number }, user: Record<string, unknown>): boolean;
    };

    const reset = { passwordChangedAt: CHANGED, credentialVersion: 2 };
    expect(example.checkSession({ iat: Date.parse('2026-11-22T10:00:00Z') / 1000, cv: 1 }, reset)).toBe(
      false,
    );
    expect(example.checkSession({ iat: Date.parse('2026-11-23T08:01:00Z') / 1000, cv: 2 }, reset)).toBe(true);
  });
});
