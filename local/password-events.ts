import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventBridgeStandIn, startEventBridgeStandIn } from './eventbridge-stand-in';
import { type StreamReader, startStreamReader } from './stream-reader';

/**
 * PasswordChanged events on one machine: the EventBridge stand-in, and the stream reader that
 * feeds the token table's DynamoDB Local stream to the SAME publisher handler Lambda runs.
 */
export const LOCAL_EVENT_BUS = 'password-reset-local';

export interface LocalPasswordEvents {
  bus: EventBridgeStandIn;
  reader: StreamReader;
  stop(): Promise<void>;
}

export async function startLocalPasswordEvents(options: {
  dynamoEndpoint: string;
  tokenTableName: string;
  checkpointFile?: string;
}): Promise<LocalPasswordEvents> {
  const bus = await startEventBridgeStandIn(LOCAL_EVENT_BUS);
  try {
    // The publisher reads these when first imported, as a Lambda cold start would.
    Object.assign(process.env, {
      EVENT_BUS_NAME: LOCAL_EVENT_BUS,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    });
    const { handler } = await import('../functions/password-changed-publisher');
    const reader = startStreamReader({
      dynamoEndpoint: options.dynamoEndpoint,
      tableName: options.tokenTableName,
      handler,
      checkpointFile:
        options.checkpointFile ??
        join(tmpdir(), 'password-reset-local', `${options.tokenTableName}.checkpoint.json`),
      onError: (error) =>
        process.stderr.write(`[events] stream reader: ${error instanceof Error ? error.name : 'error'}\n`),
    });
    return {
      bus,
      reader,
      stop: async () => {
        await reader.stop();
        await bus.stop();
      },
    };
  } catch (error) {
    await bus.stop();
    throw error;
  }
}
