import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A TCP proxy that slows the store down: it sits in front of DynamoDB Local and holds every
 * chunk for a set time in each direction, changeable while a test runs. Hand-written on node:net
 * (about 50 lines of logic): toxiproxy is a Go server we cannot install here, and the npm
 * "chaos proxies" work at the HTTP level, which would re-frame the SDK's traffic and cannot hold
 * a request that has already left the client, which is the case these tests are about.
 *
 * Like a real network, bytes the client sent before it gave up (a timeout, an abort) are still
 * delivered after their delay, so a write can land after the service stopped waiting for it.
 */
export interface DelaySettings {
  /** Added to each chunk from the service to DynamoDB. */
  requestMs: number;
  /** Added to each chunk from DynamoDB back to the service. */
  responseMs: number;
  /** Per DynamoDB operation (the X-Amz-Target action), replacing the two above for it. */
  operations: Record<string, { requestMs?: number; responseMs?: number }>;
  /** `hang`: connections stay open and nothing passes; `reset`: every connection is reset. */
  mode: 'forward' | 'hang' | 'reset';
}

export interface DelayProxy {
  endpoint: string;
  /** Changes the delays from now on; chunks already held keep their time. */
  set(settings: Partial<DelaySettings>): void;
  /** How many requests of each operation reached the proxy. */
  seen(operation: string): number;
  close(): Promise<void>;
}

const TARGET = /x-amz-target:\s*[\w.]*?\.(\w+)/i;

export async function startDelayProxy(target: string): Promise<DelayProxy> {
  const upstream = new URL(target);
  let settings: DelaySettings = { requestMs: 0, responseMs: 0, operations: {}, mode: 'forward' };
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  /** Forwards `from` to `to`, each chunk `delay()` later, never out of order. */
  const pipe = (from: Socket, to: Socket, delay: (chunk: Buffer) => number) => {
    let queue: Promise<void> = Promise.resolve();
    let lastAt = 0;
    from.on('data', (chunk: Buffer) => {
      if (settings.mode === 'hang') return;
      const at = Math.max(Date.now() + delay(chunk), lastAt);
      lastAt = at;
      queue = queue.then(async () => {
        await sleep(Math.max(0, at - Date.now()));
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('close', () => {
      queue = queue.then(() => {
        to.end();
      });
    });
  };

  const server = createServer((client) => {
    track(client);
    if (settings.mode === 'reset') return client.resetAndDestroy();
    const store = connect(Number(upstream.port), upstream.hostname);
    track(store);
    let operation = '';
    const delayFor = (direction: 'requestMs' | 'responseMs') =>
      settings.operations[operation]?.[direction] ?? settings[direction];
    pipe(client, store, (chunk) => {
      const found = TARGET.exec(chunk.toString('latin1'));
      if (found?.[1]) {
        operation = found[1];
        counts.set(operation, (counts.get(operation) ?? 0) + 1);
      }
      return delayFor('requestMs');
    });
    pipe(store, client, () => delayFor('responseMs'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    set: (change) => {
      settings = { ...settings, ...change };
      if (settings.mode === 'reset') for (const socket of sockets) socket.resetAndDestroy();
    },
    seen: (operation) => counts.get(operation) ?? 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
