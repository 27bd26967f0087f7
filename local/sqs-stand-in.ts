import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port';

/**
 * A loopback stand-in for the SQS calls the service makes, speaking the AWS JSON 1.0 protocol
 * that @aws-sdk/client-sqs uses (x-amz-target: AmazonSQS.<Action>), so the real SDK, its MD5
 * checks and the sender's ChangeMessageVisibility all run unchanged. It keeps SQS's semantics
 * where the service depends on them: at-least-once delivery, visibility timeouts, receive
 * counts, long polling, and a redrive policy that moves a message to its dead-letter queue
 * once it has been received maxReceiveCount times.
 */
export const LOCAL_ACCOUNT = '000000000000';

export interface QueueOptions {
  visibilityTimeoutSeconds?: number;
  deadLetter?: { queue: string; maxReceiveCount: number };
}

export interface StoredMessage {
  messageId: string;
  body: string;
  receiveCount: number;
  sentAt: number;
  firstReceivedAt: number | undefined;
  visibleAt: number;
  receiptHandle: string | undefined;
}

export interface SqsStandIn {
  endpoint: string;
  queueUrl(name: string): string;
  queueArn(name: string): string;
  /** Every message a queue holds, visible or in flight. */
  messages(name: string): readonly StoredMessage[];
  stop(): Promise<void>;
}

interface Queue {
  name: string;
  options: QueueOptions;
  messages: Map<string, StoredMessage>;
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

class SqsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export async function startSqsStandIn(queues: Record<string, QueueOptions>): Promise<SqsStandIn> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const byName = new Map<string, Queue>(
    Object.entries(queues).map(([name, options]) => [name, { name, options, messages: new Map() }]),
  );
  const queueOf = (url: unknown): Queue => {
    const name =
      String(url ?? '')
        .split('/')
        .at(-1) ?? '';
    const queue = byName.get(name);
    if (!queue) throw new SqsError('com.amazonaws.sqs#QueueDoesNotExist', `The queue ${name} does not exist`);
    return queue;
  };
  const enqueue = (queue: Queue, body: string, now: number, delaySeconds = 0): StoredMessage => {
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      receiveCount: 0,
      sentAt: now,
      firstReceivedAt: undefined,
      visibleAt: now + delaySeconds * 1000,
      receiptHandle: undefined,
    };
    queue.messages.set(message.messageId, message);
    return message;
  };
  const findByHandle = (queue: Queue, handle: unknown) =>
    [...queue.messages.values()].find((m) => m.receiptHandle !== undefined && m.receiptHandle === handle);

  const receive = (queue: Queue, max: number, visibilitySeconds: number) => {
    const now = Date.now();
    const out: StoredMessage[] = [];
    for (const message of queue.messages.values()) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      const redrive = queue.options.deadLetter;
      if (redrive && message.receiveCount >= redrive.maxReceiveCount) {
        // SQS's redrive: moved on the receive after the last allowed one, body and all.
        queue.messages.delete(message.messageId);
        const target = byName.get(redrive.queue);
        if (target)
          target.messages.set(message.messageId, { ...message, receiptHandle: undefined, visibleAt: now });
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + visibilitySeconds * 1000;
      message.receiptHandle = `${message.messageId}:${message.receiveCount}:${randomUUID()}`;
      out.push(message);
    }
    return out;
  };

  const actions: Record<string, (input: Record<string, unknown>) => Promise<unknown> | unknown> = {
    GetQueueUrl: (input) => ({ QueueUrl: `${endpoint}/${LOCAL_ACCOUNT}/${queueOf(input.QueueName).name}` }),
    SendMessage: (input) => {
      const body = String(input.MessageBody ?? '');
      if (!body) throw new SqsError('com.amazonaws.sqs#MissingParameter', 'MessageBody is required');
      const message = enqueue(queueOf(input.QueueUrl), body, Date.now(), Number(input.DelaySeconds ?? 0));
      return { MessageId: message.messageId, MD5OfMessageBody: md5(body) };
    },
    ReceiveMessage: async (input) => {
      const queue = queueOf(input.QueueUrl);
      const max = Math.min(10, Math.max(1, Number(input.MaxNumberOfMessages ?? 1)));
      const visibility = Number(input.VisibilityTimeout ?? queue.options.visibilityTimeoutSeconds ?? 30);
      const deadline = Date.now() + Math.min(20, Number(input.WaitTimeSeconds ?? 0)) * 1000;
      let messages = receive(queue, max, visibility);
      while (messages.length === 0 && Date.now() < deadline) {
        await sleep(10);
        messages = receive(queue, max, visibility);
      }
      return {
        Messages: messages.map((m) => ({
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: md5(m.body),
          Body: m.body,
          Attributes: {
            ApproximateReceiveCount: String(m.receiveCount),
            SentTimestamp: String(m.sentAt),
            ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
            SenderId: 'AIDALOCAL',
          },
        })),
      };
    },
    DeleteMessage: (input) => {
      const queue = queueOf(input.QueueUrl);
      const message = findByHandle(queue, input.ReceiptHandle);
      if (message) queue.messages.delete(message.messageId);
      return {};
    },
    DeleteMessageBatch: (input) => {
      const queue = queueOf(input.QueueUrl);
      const entries = (input.Entries ?? []) as Array<{ Id: string; ReceiptHandle: string }>;
      for (const entry of entries) {
        const message = findByHandle(queue, entry.ReceiptHandle);
        if (message) queue.messages.delete(message.messageId);
      }
      return { Successful: entries.map((entry) => ({ Id: entry.Id })), Failed: [] };
    },
    ChangeMessageVisibility: (input) => {
      const queue = queueOf(input.QueueUrl);
      const message = findByHandle(queue, input.ReceiptHandle);
      if (!message)
        throw new SqsError('com.amazonaws.sqs#ReceiptHandleIsInvalid', 'The receipt handle is not valid');
      message.visibleAt = Date.now() + Number(input.VisibilityTimeout ?? 0) * 1000;
      return {};
    },
    GetQueueAttributes: (input) => {
      const queue = queueOf(input.QueueUrl);
      const now = Date.now();
      const all = [...queue.messages.values()];
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(all.filter((m) => m.visibleAt <= now).length),
          ApproximateNumberOfMessagesNotVisible: String(all.filter((m) => m.visibleAt > now).length),
          QueueArn: `arn:aws:sqs:us-east-1:${LOCAL_ACCOUNT}:${queue.name}`,
        },
      };
    },
  };

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = actions[target.replace(/^AmazonSQS\./, '')];
    try {
      if (!target.startsWith('AmazonSQS.') || !action)
        throw new SqsError('com.amazonaws.sqs#UnsupportedOperation', `Unsupported ${target}`);
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(raw || '{}');
      } catch {
        throw new SqsError('com.amazonaws.sqs#InvalidParameterValue', 'Malformed JSON');
      }
      reply(res, 200, await action(input));
    } catch (error) {
      const e = error instanceof SqsError ? error : new SqsError('InternalFailure', 'internal error', 500);
      reply(res, e.status, { __type: e.type, message: e.message });
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    endpoint,
    queueUrl: (name) => `${endpoint}/${LOCAL_ACCOUNT}/${name}`,
    queueArn: (name) => `arn:aws:sqs:us-east-1:${LOCAL_ACCOUNT}:${name}`,
    messages: (name) => [...(byName.get(name)?.messages.values() ?? [])],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
