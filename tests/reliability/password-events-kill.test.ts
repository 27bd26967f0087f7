import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { confirmReset } from '../../lib/confirm-reset';
import { passwordChangedDetail } from '../../lib/events/password-changed';
import { type EventBridgeStandIn, startEventBridgeStandIn } from '../../local/eventbridge-stand-in';
import { createTestWorld, type TestWorld } from '../support/deps';
import { report } from '../support/sizes';

/**
 * The publisher (stream reader + publisher handler) runs as its own process and is SIGKILLed
 * while its PutEvents is in flight, after the reset committed. Nothing is lost: the restarted
 * process resumes from its checkpoint file and the event arrives.
 */
let world: TestWorld;
let bus: EventBridgeStandIn;
const checkpointFile = join(mkdtempSync(join(tmpdir(), 'publisher-kill-')), 'checkpoint.json');
const children: ChildProcess[] = [];

beforeAll(async () => {
  world = await createTestWorld({ PASSWORD_CHANGED_EVENTS: 'true' });
  bus = await startEventBridgeStandIn('kill-test-bus');
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await bus?.stop();
  world?.destroy();
});

function startPublisher(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/publisher-process.ts'], {
    env: {
      ...process.env,
      DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
      TOKEN_TABLE_NAME: world.config.tokenTableName,
      CHECKPOINT_FILE: checkpointFile,
      EVENT_BUS_NAME: 'kill-test-bus',
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let users = 0;
async function reset(): Promise<string> {
  const email = `killed-${++users}@example.com`;
  const created = await world.accounts.create(email, 'the starting passphrase', 4);
  if ('conflict' in created) throw new Error('seed');
  await world.requestReset({ email, sourceIp: '198.51.100.7', requestId: `req-${users}` });
  const result = await confirmReset(
    {
      token: world.lastToken(),
      newPassword: `a new passphrase ${users}`,
      sourceIp: '198.51.100.7',
      requestId: `c-${users}`,
    },
    world.confirmDeps,
  );
  expect(result).toEqual({ status: 'completed' });
  return created.userId;
}

const userIds = () => bus.events().map((event) => passwordChangedDetail.parse(event.detail).userId);

describe('killing the publisher', () => {
  it('between the commit and the publish loses nothing: the event arrives after a restart', async () => {
    bus.hold();
    const first = startPublisher();
    const userId = await reset();
    await until(() => bus.heldRequests === 1, 'the publisher to be inside PutEvents');

    await killHard(first);
    await until(() => bus.heldRequests === 0, 'the killed caller to disconnect');
    bus.release();
    const whileDown: string[] = [];
    for (let i = 0; i < 20; i++) whileDown.push(await reset());

    expect(bus.events()).toHaveLength(0);
    const second = startPublisher();
    await until(() => bus.events().length >= 21, 'the events after the restart', 60_000);
    await killHard(second);

    const published = userIds();
    expect(published.filter((id) => id === userId)).toHaveLength(1);
    expect(new Set(published)).toEqual(new Set([userId, ...whileDown]));
    expect(published).toHaveLength(21);
    report('publisher killed', {
      inFlightWhenKilled: 1,
      resetsWhileDown: 20,
      eventsAfterRestart: published.length,
    });
  });
});
