import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createBreachCheck } from '../../lib/passwords/breach-check';
import { type RangeStandIn, startRangeStandIn } from '../support/pwned-range-stand-in';

const BREACHED = 'a very breached passphrase';
let standIn: RangeStandIn | undefined;
afterEach(async () => {
  await standIn?.stop();
  standIn = undefined;
});

const checkWith = (url: string, unavailable: string[], timeoutMs = 1000) =>
  createBreachCheck({ baseUrl: url, timeoutMs, onUnavailable: (reason) => unavailable.push(reason) });

describe('the breached-password check', () => {
  it('finds a breached password and sends only the first 5 characters of its SHA-1, with padding', async () => {
    standIn = await startRangeStandIn([BREACHED]);
    const unavailable: string[] = [];
    const digest = createHash('sha1').update(BREACHED).digest('hex').toUpperCase();

    const found = await checkWith(standIn.url, unavailable)(BREACHED);

    expect(found).toBe(true);
    expect(standIn.requests).toEqual([{ path: `/range/${digest.slice(0, 5)}`, padding: 'true' }]);
    expect(unavailable).toEqual([]);
  });

  it('does not report a password whose suffix is absent or only a padding line', async () => {
    standIn = await startRangeStandIn([BREACHED]);
    const unavailable: string[] = [];

    expect(await checkWith(standIn.url, unavailable)('velvet tulip oyster canyon')).toBe(false);
    expect(unavailable).toEqual([]);
  });

  it('fails open with a reason when the range service is slower than the timeout', async () => {
    standIn = await startRangeStandIn([BREACHED], { delayMs: 1_500 });
    const unavailable: string[] = [];
    const started = performance.now();

    const found = await checkWith(standIn.url, unavailable, 200)(BREACHED);

    expect(found).toBe(false);
    expect(unavailable).toEqual(['timeout']);
    expect(performance.now() - started).toBeLessThan(1_400);
  });

  it('fails open when the range service answers an error or cannot be reached', async () => {
    standIn = await startRangeStandIn([BREACHED], { status: 503 });
    const unavailable: string[] = [];

    expect(await checkWith(standIn.url, unavailable)(BREACHED)).toBe(false);
    await standIn.stop();
    expect(await checkWith(standIn.url, unavailable)(BREACHED)).toBe(false);
    standIn = undefined;

    expect(unavailable).toEqual(['bad_status', 'network']);
  });
});
