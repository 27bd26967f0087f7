import { describe, expect, it } from 'vitest';
import { LIFTED_LIMITS, startServiceProcess } from '../../bench/service-process';
import { median } from '../../bench/stats';
import { ROUTES } from '../../local/server';
import { report, SIZES, STRESS } from '../support/sizes';

/**
 * Soak (stress mode only): the service in its own process, driven at a fixed rate with a mix of
 * requests (known and unknown accounts) and confirms (fresh and bogus tokens) for several minutes.
 * Zero 5xx, no steady memory growth, and for each accepted known-account request exactly one
 * email, or none because its work ran into the deadline below the floor (store_error, counted).
 * That deadline does fire here: one process runs every bcrypt of the confirms on the same event
 * loop (Lambda gives each invocation its own), which can stall a request's work past it.
 */
const RATE_PER_SECOND = 40;

describe.skipIf(!STRESS)('soak', () => {
  it(`holds steady for ${SIZES.soakSeconds} s at ${RATE_PER_SECOND} requests per second`, async () => {
    const service = await startServiceProcess({ ...LIFTED_LIMITS, BCRYPT_COST: '10' });
    try {
      const accounts = await service.seed(20, 'soak');
      const statuses: Record<number, number> = {};
      let knownAccepted = 0;
      let sent = 0;
      const tokens: string[] = [];
      const seenLinks = new Set<string>();
      const rss: number[] = [];

      const post = async (path: string, body: unknown) => {
        const response = await fetch(`${service.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        await response.text();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        return response.status;
      };
      const harvest = async () => {
        for (const message of await service.outbox()) {
          if (message.template !== 'password_reset' || !message.link || seenLinks.has(message.link)) continue;
          seenLinks.add(message.link);
          tokens.push(decodeURIComponent(new URL(message.link).hash.slice('#token='.length)));
        }
        rss.push(Number((await service.stats()).rssBytes));
      };

      const deadline = Date.now() + SIZES.soakSeconds * 1000;
      const pending: Array<Promise<unknown>> = [];
      let tick = 0;
      while (Date.now() < deadline) {
        const kind = tick % 10;
        if (kind < 4) {
          const email = accounts[tick % accounts.length] as string;
          pending.push(post(ROUTES.request, { email }).then((status) => status === 200 && knownAccepted++));
        } else if (kind < 7) {
          pending.push(post(ROUTES.request, { email: `soak-unknown-${tick}@example.com` }));
        } else if (kind < 9 && tokens.length > 0) {
          pending.push(
            post(ROUTES.confirm, { token: tokens.shift(), newPassword: `soak passphrase number ${tick}` }),
          );
        } else {
          pending.push(
            post(ROUTES.confirm, {
              token: `${'A'.repeat(22)}.${'B'.repeat(43)}`,
              newPassword: 'bogus passphrase here',
            }),
          );
        }
        sent++;
        tick++;
        if (tick % (RATE_PER_SECOND * 5) === 0) await harvest();
        await new Promise((resolve) => setTimeout(resolve, 1000 / RATE_PER_SECOND));
      }
      await Promise.all(pending);
      await harvest();

      const stats = (await service.stats()) as {
        delivered: Record<string, number>;
        suppressedBy: Record<string, number>;
      };
      // The deadline cuts the token write (store_error: nothing sent) or the hand-off to the queue
      // (provider_error: an aborted SendMessage may still have reached the queue, so that email
      // can arrive too). Every accepted request is accounted for, and none mailed twice.
      const storeErrors = stats.suppressedBy.store_error ?? 0;
      const handOffsCut = stats.suppressedBy.provider_error ?? 0;
      // Seeding sends nothing, so every password_reset delivered came from this run.
      const resetEmails = stats.delivered.password_reset ?? 0;
      const third = Math.floor(rss.length / 3);
      const middle = median(rss.slice(third, 2 * third));
      const last = median(rss.slice(2 * third));
      const fiveHundreds = Object.entries(statuses).filter(([status]) => Number(status) >= 500);

      report('soak', {
        seconds: SIZES.soakSeconds,
        requestsSent: sent,
        ...Object.fromEntries(Object.entries(statuses).map(([s, n]) => [`status${s}`, n])),
        knownAccepted,
        resetEmails,
        storeErrors,
        handOffsCut,
        rssMiddleMiB: (middle / 2 ** 20).toFixed(1),
        rssLastMiB: (last / 2 ** 20).toFixed(1),
      });
      expect(fiveHundreds).toEqual([]);
      expect(resetEmails + storeErrors).toBeLessThanOrEqual(knownAccepted);
      expect(resetEmails + storeErrors + handOffsCut).toBeGreaterThanOrEqual(knownAccepted);
      expect(last).toBeLessThan(middle * 1.25);
    } finally {
      await service.stop();
    }
  }, 900_000);
});
