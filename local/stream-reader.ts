import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type Shard,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { lambdaContext } from './api-gateway';

/**
 * What Lambda's DynamoDB stream event source mapping does, on one machine, against DynamoDB
 * Local's stream: read each shard in order (parents before children), hand batches to the
 * function as a real DynamoDBStreamEvent, and checkpoint per shard only what the function
 * confirmed (ReportBatchItemFailures: everything before the first failed record). The
 * checkpoint is a file written atomically, so a reader killed at any point resumes where the
 * last confirmed record left off: nothing is skipped, and a record may be delivered twice.
 */
export interface StreamReaderOptions {
  dynamoEndpoint: string;
  tableName: string;
  handler: (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | undefined>;
  checkpointFile: string;
  batchSize?: number;
  /** Idle wait between polls of a caught-up stream. */
  pollIntervalMs?: number;
  onError?: (error: unknown) => void;
}

export interface StreamReader {
  /** Batches handed to the function so far (a retried batch counts again). */
  readonly batches: number;
  stop(): Promise<void>;
}

interface Checkpoint {
  streamArn: string;
  /** Last confirmed sequence number per shard, or 'done' for a closed shard read to its end. */
  shards: Record<string, string>;
}

const DONE = 'done';
const MAX_BACKOFF_MS = 5_000;
const SHARD_LIST_INTERVAL_MS = 1_000;

export async function readCheckpoint(file: string, streamArn: string): Promise<Checkpoint> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
    // A different stream (a fresh DynamoDB Local, a recreated table) starts from its beginning.
    if (saved.streamArn === streamArn && typeof saved.shards === 'object') return saved;
  } catch {}
  return { streamArn, shards: {} };
}

async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(temporary, JSON.stringify(checkpoint));
  await rename(temporary, file);
}

export function startStreamReader(options: StreamReaderOptions): StreamReader {
  const credentials = { region: 'us-east-1', endpoint: options.dynamoEndpoint, maxAttempts: 2 };
  const dynamo = new DynamoDBClient(credentials);
  const streams = new DynamoDBStreamsClient(credentials);
  const abort = new AbortController();
  const iterators = new Map<string, string>();
  let running = true;
  let batches = 0;
  let backoffMs = 0;

  const streamArn = async (): Promise<string | undefined> => {
    const table = await dynamo.send(new DescribeTableCommand({ TableName: options.tableName }), {
      abortSignal: abort.signal,
    });
    return table.Table?.LatestStreamArn;
  };

  const listShards = async (arn: string): Promise<Shard[]> => {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await streams.send(
        new DescribeStreamCommand({ StreamArn: arn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
        { abortSignal: abort.signal },
      );
      shards.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  };

  const iteratorFor = async (arn: string, shardId: string, checkpoint: Checkpoint) => {
    const known = iterators.get(shardId);
    if (known) return known;
    const after = checkpoint.shards[shardId];
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: arn,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
      { abortSignal: abort.signal },
    );
    return ShardIterator;
  };

  /** Reads one batch of one shard; true when it did work (so the loop does not idle). */
  const readShard = async (arn: string, shard: Shard, checkpoint: Checkpoint): Promise<boolean> => {
    const shardId = shard.ShardId as string;
    // DynamoDB Local answers TrimmedDataAccess for a shard created a moment ago and reads it fine
    // on the next poll. Past a checkpoint it would mean records were trimmed: that is reported.
    const fresh = (error: unknown) =>
      error instanceof TrimmedDataAccessException && !checkpoint.shards[shardId];
    let iterator: string | undefined;
    try {
      iterator = await iteratorFor(arn, shardId, checkpoint);
    } catch (error) {
      if (fresh(error)) return false;
      throw error;
    }
    if (!iterator) {
      checkpoint.shards[shardId] = DONE;
      await writeCheckpoint(options.checkpointFile, checkpoint);
      return true;
    }
    let page: GetRecordsCommandOutput;
    try {
      page = await streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: options.batchSize ?? 10 }),
        {
          abortSignal: abort.signal,
        },
      );
    } catch (error) {
      iterators.delete(shardId);
      if (error instanceof ExpiredIteratorException) return true;
      if (fresh(error)) return false;
      throw error;
    }
    const records = page.Records ?? [];
    if (records.length === 0) {
      if (page.NextShardIterator) iterators.set(shardId, page.NextShardIterator);
      else {
        iterators.delete(shardId);
        checkpoint.shards[shardId] = DONE;
        await writeCheckpoint(options.checkpointFile, checkpoint);
      }
      return false;
    }

    const event: DynamoDBStreamEvent = { Records: records.map((record) => toLambdaRecord(record, arn)) };
    batches++;
    let firstFailed = records.length;
    try {
      const response = await options.handler(event, lambdaContext('password-changed-publisher', 60_000));
      const failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      const index = records.findIndex((record) => failed.has(record.dynamodb?.SequenceNumber as string));
      if (index >= 0) firstFailed = index;
    } catch (error) {
      options.onError?.(error);
      firstFailed = 0;
    }
    const confirmed = records.slice(0, firstFailed).at(-1)?.dynamodb?.SequenceNumber;
    if (confirmed) {
      checkpoint.shards[shardId] = confirmed;
      await writeCheckpoint(options.checkpointFile, checkpoint);
    }
    if (firstFailed < records.length) {
      // Retry from the first failed record, like Lambda, after a growing pause.
      iterators.delete(shardId);
      backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(200, backoffMs * 2));
      await sleep(backoffMs, undefined, { signal: abort.signal }).catch(() => undefined);
      return true;
    }
    backoffMs = 0;
    if (page.NextShardIterator) iterators.set(shardId, page.NextShardIterator);
    else iterators.delete(shardId);
    return true;
  };

  // The stream ARN, the checkpoint and the shard list are cached between polls: an idle reader
  // costs one GetRecords per open shard per poll, and the shards are listed again once a second.
  let current: { arn: string; checkpoint: Checkpoint } | undefined;
  let shards: Shard[] = [];
  let listedAt = 0;
  const loop = (async () => {
    while (running) {
      let busy = false;
      try {
        if (!current) {
          const arn = await streamArn();
          if (arn) current = { arn, checkpoint: await readCheckpoint(options.checkpointFile, arn) };
        }
        if (current) {
          const { arn, checkpoint } = current;
          if (Date.now() - listedAt >= SHARD_LIST_INTERVAL_MS) {
            shards = await listShards(arn);
            listedAt = Date.now();
          }
          const present = new Set(shards.map((shard) => shard.ShardId));
          for (const shard of shards) {
            if (!running) break;
            if (checkpoint.shards[shard.ShardId as string] === DONE) continue;
            // Order across shards: a child waits until its parent has been read to the end.
            const parent = shard.ParentShardId;
            if (parent && present.has(parent) && checkpoint.shards[parent] !== DONE) continue;
            busy = (await readShard(arn, shard, checkpoint)) || busy;
          }
        }
      } catch (error) {
        if (!running) break;
        options.onError?.(error);
        // Start over from the table: it may have been recreated, or DynamoDB Local restarted.
        iterators.clear();
        current = undefined;
        listedAt = 0;
        await sleep(500, undefined, { signal: abort.signal }).catch(() => undefined);
      }
      if (!busy && running)
        await sleep(options.pollIntervalMs ?? 100, undefined, { signal: abort.signal }).catch(
          () => undefined,
        );
    }
  })();

  return {
    get batches() {
      return batches;
    },
    stop: async () => {
      running = false;
      abort.abort();
      await loop;
      dynamo.destroy();
      streams.destroy();
    },
  };
}

/** A Streams API record as Lambda delivers it (epoch seconds, the stream's ARN on each record). */
function toLambdaRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? 'us-east-1',
    eventSourceARN: streamArn,
    dynamodb: {
      ...(record.dynamodb as DynamoDBRecord['dynamodb']),
      ...(created ? { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) } : {}),
    },
  } as DynamoDBRecord;
}
