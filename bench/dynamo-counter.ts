import { createServer, request } from 'node:http';
import { freePort } from '../local/free-port';

/**
 * A counting proxy in front of DynamoDB Local. It asks DynamoDB for ReturnConsumedCapacity on
 * every data call and tallies calls and capacity units per operation, measured on the wire,
 * without a line of instrumentation in the service. DynamoDB Local does not check signatures,
 * so adding the field to a signed body is harmless here (and only here).
 */
export interface CallStats {
  calls: Record<string, number>;
  readUnits: Record<string, number>;
  writeUnits: Record<string, number>;
}

const DATA_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
]);

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

export async function startDynamoCounter(target: string) {
  const upstream = new URL(target);
  const stats: CallStats = { calls: {}, readUnits: {}, writeUnits: {} };
  const port = await freePort();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      let body = Buffer.concat(chunks);
      if (DATA_OPERATIONS.has(operation)) {
        const parsed = JSON.parse(body.toString('utf8'));
        parsed.ReturnConsumedCapacity = 'TOTAL';
        body = Buffer.from(JSON.stringify(parsed));
        stats.calls[operation] = (stats.calls[operation] ?? 0) + 1;
      }
      const headers = { ...req.headers, 'content-length': String(body.length), host: upstream.host };
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (upstreamRes) => {
          const out: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => out.push(c));
          upstreamRes.on('end', () => {
            const text = Buffer.concat(out);
            if (DATA_OPERATIONS.has(operation)) tally(operation, text);
            res.writeHead(upstreamRes.statusCode ?? 500, upstreamRes.headers);
            res.end(text);
          });
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });

  const tally = (operation: string, text: Buffer) => {
    try {
      const parsed = JSON.parse(text.toString('utf8')) as { ConsumedCapacity?: Capacity | Capacity[] };
      const list = Array.isArray(parsed.ConsumedCapacity)
        ? parsed.ConsumedCapacity
        : parsed.ConsumedCapacity
          ? [parsed.ConsumedCapacity]
          : [];
      for (const capacity of list) {
        const read = capacity.ReadCapacityUnits ?? 0;
        const write = capacity.WriteCapacityUnits ?? 0;
        // Some operations report only the total; attribute it by the operation's kind.
        const total = capacity.CapacityUnits ?? read + write;
        const isRead = ['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems'].includes(operation);
        stats.readUnits[operation] = (stats.readUnits[operation] ?? 0) + (read || (isRead ? total : 0));
        stats.writeUnits[operation] = (stats.writeUnits[operation] ?? 0) + (write || (isRead ? 0 : total));
      }
    } catch {
      // A conditional failure body carries no capacity; nothing to add.
    }
  };

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    snapshot: (): CallStats => structuredClone(stats),
    reset: () => {
      stats.calls = {};
      stats.readUnits = {};
      stats.writeUnits = {};
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
