import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext } from './api-gateway';

/**
 * What Lambda's SQS event source mapping does, on one machine: long-poll the queue, hand each
 * batch to the function as a real SQSEvent, delete the records it did not report in
 * batchItemFailures (ReportBatchItemFailures), and leave the failed ones, or the whole batch
 * if the function throws, to come back after their visibility timeout.
 */
export interface EventSourceMappingOptions {
  queueUrl: string;
  queueArn: string;
  endpoint: string;
  functionName: string;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;
  batchSize?: number;
  /** Parallel pollers, like the mapping's scaling (its minimum is 2). */
  concurrency?: number;
  onError?: (error: unknown) => void;
}

export interface EventSourceMapping {
  /** Batches currently inside the handler. */
  readonly inFlight: number;
  /** Records handed to the handler so far, and the handler's time on them (for cost figures). */
  readonly handled: { batches: number; records: number; handlerMs: number };
  /** Stops taking new batches (a disabled mapping, as an operator would set); resume() takes them again. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export function startEventSourceMapping(options: EventSourceMappingOptions): EventSourceMapping {
  const client = new SQSClient({ endpoint: options.endpoint, maxAttempts: 2 });
  let running = true;
  let paused = false;
  let inFlight = 0;
  const handled = { batches: 0, records: 0, handlerMs: 0 };
  const abort = new AbortController();

  const pollOnce = async () => {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: options.batchSize ?? 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );
    if (Messages.length === 0) return;
    const event: SQSEvent = {
      Records: Messages.map((m) => ({
        messageId: m.MessageId as string,
        receiptHandle: m.ReceiptHandle as string,
        body: m.Body as string,
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
          SenderId: m.Attributes?.SenderId ?? '',
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody as string,
        eventSource: 'aws:sqs',
        eventSourceARN: options.queueArn,
        awsRegion: 'us-east-1',
      })),
    };
    inFlight++;
    let failed: Set<string>;
    const started = performance.now();
    try {
      const response = await options.handler(event, lambdaContext(options.functionName, 30_000));
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      options.onError?.(error);
      failed = new Set(event.Records.map((r) => r.messageId));
    } finally {
      inFlight--;
      handled.batches++;
      handled.records += event.Records.length;
      handled.handlerMs += performance.now() - started;
    }
    const done = event.Records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 2 }, async () => {
    while (running) {
      if (paused) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      try {
        await pollOnce();
      } catch (error) {
        if (!running) return;
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });

  return {
    get inFlight() {
      return inFlight;
    },
    handled,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    stop: async () => {
      running = false;
      abort.abort();
      await Promise.allSettled(loops);
      client.destroy();
    },
  };
}
