import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from './free-port';

/**
 * A loopback stand-in for EventBridge's PutEvents, speaking the real AWS JSON 1.1 protocol, so
 * the SDK and the publisher run unchanged when AWS_ENDPOINT_URL_EVENTBRIDGE points here. It
 * keeps what it accepted as EventBridge envelopes. `hold()` makes it take requests without
 * answering or recording them, which lets a test kill the publisher in the middle of a publish.
 */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export interface EventBridgeStandIn {
  endpoint: string;
  eventBusName: string;
  /** Accepted events, oldest first. */
  events(): EventEnvelope[];
  /** PutEvents requests received (held or not). */
  readonly putCalls: number;
  /** Held requests whose callers are still connected. */
  readonly heldRequests: number;
  hold(): void;
  /** Answers the held requests whose callers are still connected; drops the others unrecorded. */
  release(): void;
  /** The next `count` entries are rejected per entry (FailedEntryCount), as EventBridge can. */
  failNextEntries(count: number): void;
  stop(): Promise<void>;
}

interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
  Resources?: string[];
}

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

export async function startEventBridgeStandIn(eventBusName: string): Promise<EventBridgeStandIn> {
  const port = await freePort();
  const accepted: EventEnvelope[] = [];
  const held = new Set<() => void>();
  let holding = false;
  let failing = 0;
  let putCalls = 0;

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  };
  const busMatches = (name: string | undefined) =>
    (name ?? 'default') === eventBusName || (name ?? '').endsWith(`:event-bus/${eventBusName}`);

  const putEvents = (res: ServerResponse, input: { Entries?: PutEventsEntry[] }) => {
    const entries = input.Entries ?? [];
    if (entries.length < 1 || entries.length > MAX_ENTRIES)
      return reply(res, 400, { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries' });
    const results = entries.map((entry) => {
      if (!busMatches(entry.EventBusName))
        return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Unknown event bus' };
      if (!entry.Source || !entry.DetailType || !entry.Detail)
        return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Source, DetailType and Detail are required' };
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail);
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
      }
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail must be a JSON object' };
      if (failing > 0) {
        failing--;
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'Injected failure' };
      }
      const time = entry.Time === undefined ? new Date() : new Date(Number(entry.Time) * 1000);
      const id = randomUUID();
      accepted.push({
        version: '0',
        id,
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: '000000000000',
        // EventBridge's envelope time has whole seconds.
        time: `${time.toISOString().slice(0, 19)}Z`,
        region: 'us-east-1',
        resources: entry.Resources ?? [],
        detail,
      });
      return { EventId: id };
    });
    const failedCount = results.filter((result) => 'ErrorCode' in result).length;
    return reply(res, 200, { FailedEntryCount: failedCount, Entries: results });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target !== 'AWSEvents.PutEvents')
      return reply(res, 400, { __type: 'UnknownOperationException', message: `Unsupported ${target}` });
    if (body.length > MAX_REQUEST_BYTES)
      return reply(res, 400, { __type: 'ValidationException', message: 'Request is over 256 KB' });
    let input: { Entries?: PutEventsEntry[] };
    try {
      input = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return reply(res, 400, { __type: 'SerializationException', message: 'Malformed JSON' });
    }
    putCalls++;
    if (!holding) return putEvents(res, input);
    // A caller that dies while held never gets its events recorded, as with a lost request.
    const answer = () => putEvents(res, input);
    held.add(answer);
    req.socket.once('close', () => held.delete(answer));
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    endpoint: `http://127.0.0.1:${port}`,
    eventBusName,
    events: () => [...accepted],
    get putCalls() {
      return putCalls;
    },
    get heldRequests() {
      return held.size;
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      const waiting = [...held];
      held.clear();
      for (const answer of waiting) answer();
    },
    failNextEntries: (count) => {
      failing = count;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
