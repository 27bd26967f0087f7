import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { flowKey } from '../../lib/codes/code';
import { FlowStore } from '../../lib/codes/flow-store';
import { type ConfirmResetResult, confirmReset } from '../../lib/confirm-reset';
import { type LocalServer, ROUTES, startLocalServer } from '../../local/server';
import { createTestWorld } from '../support/deps';
import { clientAddresses, codeFor, postFrom } from '../support/loopback-clients';
import { report, SIZES, STRESS } from '../support/sizes';

vi.setConfig({ testTimeout: SIZES.timeoutMs });

/**
 * Concurrent guesses against code flows. Each confirm charges one attempt with a conditional
 * UpdateItem before any comparison, so however many guesses race, no flow is compared more often
 * than its budget (5), and a flow is used at most once.
 */
const GUESSES_PER_FLOW = 30;
/** How many times the right code is hidden among each flow's concurrent guesses. */
const RIGHT_GUESSES = 3;
const meta = { requestId: 'race' };

/** 30 guesses: 27 wrong codes and the right one 3 times, at random positions. */
function guessesFor(right: string): string[] {
  const guesses = Array.from({ length: GUESSES_PER_FLOW - RIGHT_GUESSES }, (_, i) =>
    String((Number(right) + i + 1) % 10 ** right.length).padStart(right.length, '0'),
  );
  for (let i = 0; i < RIGHT_GUESSES; i++)
    guesses.splice(Math.floor(Math.random() * (guesses.length + 1)), 0, right);
  return guesses;
}

describe('concurrent guesses on DynamoDB Local (use case, test bcrypt cost)', () => {
  const flowCount = STRESS ? 200 : 20;

  it(`never compares more than the budget per flow, and uses each flow at most once (${flowCount} flows x ${GUESSES_PER_FLOW})`, async () => {
    const world = await createTestWorld({ RESET_METHODS: 'code' });
    const compared = new Map<string, string[]>();
    const baseHash = world.confirmDeps.hashCode;
    // hashCode runs exactly once per comparison: counting its calls counts compared attempts.
    const deps = {
      ...world.confirmDeps,
      hashCode: (flowId: string, code: string) => {
        compared.set(flowId, [...(compared.get(flowId) ?? []), code]);
        return baseHash(flowId, code);
      },
    };
    const flows: Array<{ email: string; flowId: string; code: string }> = [];
    for (let i = 0; i < flowCount; i++) {
      const email = `guess-${i}-${randomUUID().slice(0, 6)}@example.com`;
      await world.accounts.create(email, 'the starting passphrase of mine');
      const result = await world.requestReset({ email, sourceIp: '198.51.100.1', ...meta });
      const text = world.outbox.outbox().at(-1)?.text ?? '';
      const code = /^Reset code: ([0-9]+)$/m.exec(text)?.[1];
      if (result.status !== 'accepted' || !result.flowId || !code) throw new Error('no code issued');
      flows.push({ email, flowId: result.flowId, code });
    }

    let maxCompared = 0;
    let flowsUsed = 0;
    let overBudget = 0;
    let doubleUse = 0;
    const PARALLEL_FLOWS = 4;
    for (let start = 0; start < flows.length; start += PARALLEL_FLOWS) {
      await Promise.all(
        flows.slice(start, start + PARALLEL_FLOWS).map(async (flow) => {
          const answers: ConfirmResetResult[] = await Promise.all(
            guessesFor(flow.code).map((code, k) =>
              confirmReset(
                {
                  flowId: flow.flowId,
                  code,
                  newPassword: `race passphrase number ${k}`,
                  sourceIp: `198.51.100.${k}`,
                  ...meta,
                },
                deps,
              ),
            ),
          );
          const codes = compared.get(flow.flowId) ?? [];
          const successes = answers.filter((a) => a.status === 'completed').length;
          maxCompared = Math.max(maxCompared, codes.length);
          if (codes.length > world.config.codes.maxAttempts) overBudget++;
          if (successes > 1) doubleUse++;
          flowsUsed += successes;
          // A flow is used exactly when the right code was among the compared ones.
          expect(successes, flow.flowId).toBe(codes.includes(flow.code) ? 1 : 0);
          expect(answers.every((a) => a.status === 'completed' || a.status === 'invalid_code')).toBe(true);
          const user = await world.accounts.login(flow.email, 'the starting passphrase of mine');
          expect(user === null).toBe(successes === 1);
        }),
      );
    }

    expect(overBudget).toBe(0);
    expect(doubleUse).toBe(0);
    expect(maxCompared).toBeLessThanOrEqual(world.config.codes.maxAttempts);
    report('code guesses', {
      flows: flowCount,
      guessesPerFlow: GUESSES_PER_FLOW,
      maxComparedPerFlow: maxCompared,
      flowsOverBudget: overBudget,
      flowsUsedTwice: doubleUse,
      flowsUsed,
    });
    world.destroy();
  });
});

/**
 * The same race once at npm start's DEFAULTS (bcrypt cost 12, default limits and code settings),
 * over HTTP, each guess from its own loopback address so the per-IP limits apply unlifted.
 */
describe('concurrent guesses at npm start defaults (bcrypt 12), over HTTP', () => {
  let server: LocalServer;
  beforeAll(async () => {
    const suffix = randomUUID().slice(0, 8);
    server = await startLocalServer({
      dynamoEndpoint: inject('dynamoEndpoint'),
      env: {
        TOKEN_TABLE_NAME: `code-race-tokens-${suffix}`,
        USERS_TABLE_NAME: `code-race-users-${suffix}`,
        KILL_SWITCH_PARAMETER_NAME: `/password-reset/code-race-${suffix}/kill-switch`,
        RESET_METHODS: 'link,code',
        // As in claim-race.test.ts: only so a loaded machine still issues the code in time.
        REQUEST_RESPONSE_FLOOR_MS: '1500',
      },
    });
  });
  afterAll(() => server?.stop());

  it('compares at most 5 of 30 concurrent guesses per flow, with at most one success and no 5xx', async () => {
    expect(server.config.bcryptCost).toBe(12);
    const store = new FlowStore(server.documentClient, server.config.tokenTableName);
    const results: Array<{ successes: number; attempts: number | undefined; fiveHundreds: number }> = [];
    for (let i = 0; i < 3; i++) {
      const email = `http-guess-${i}-${randomUUID().slice(0, 6)}@example.com`;
      await server.accounts.create(email, 'the starting passphrase of mine', 4);
      const { flowId, code } = await codeFor(server, email);

      const answers = await Promise.all(
        guessesFor(code).map((guess, k) =>
          postFrom(server.url, clientAddress(), ROUTES.confirm, {
            flowId,
            code: guess,
            newPassword: `race passphrase number ${k}`,
          }),
        ),
      );

      const successes = answers.filter((a) => a.status === 200).length;
      const refused = answers.filter((a) => a.status === 400 && a.json().code === 'invalid_or_expired_code');
      const attempts = await store.attempts(flowKey(flowId));
      results.push({ successes, attempts, fiveHundreds: answers.filter((a) => a.status >= 500).length });
      expect(successes).toBeLessThanOrEqual(1);
      expect(refused).toHaveLength(GUESSES_PER_FLOW - successes);
      // A used flow is gone; an unused one recorded exactly the budget, however many raced.
      expect(attempts).toBe(successes === 1 ? undefined : 5);
      const login = await server.accounts.login(email, 'the starting passphrase of mine');
      expect(login === null).toBe(successes === 1);
    }
    expect(results.reduce((sum, r) => sum + r.fiveHundreds, 0)).toBe(0);
    report('code guesses at cost 12', {
      flows: results.length,
      guessesPerFlow: GUESSES_PER_FLOW,
      flowsUsed: results.reduce((sum, r) => sum + r.successes, 0),
      fiveHundreds: 0,
    });
  });

  const clientAddress = clientAddresses(30);
});
