import { startStreamReader } from './stream-reader';

/**
 * The stream reader and publisher as a process of their own, so a test can SIGKILL it in the
 * middle of a publish and start it again on the same checkpoint file. Settings come from the
 * environment: DYNAMODB_ENDPOINT, TOKEN_TABLE_NAME, CHECKPOINT_FILE, and the publisher's
 * EVENT_BUS_NAME and AWS_ENDPOINT_URL_EVENTBRIDGE.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const { handler } = await import('../functions/password-changed-publisher');
const reader = startStreamReader({
  dynamoEndpoint: required('DYNAMODB_ENDPOINT'),
  tableName: required('TOKEN_TABLE_NAME'),
  checkpointFile: required('CHECKPOINT_FILE'),
  handler,
  onError: (error) =>
    process.stderr.write(`stream reader: ${error instanceof Error ? error.name : 'error'}\n`),
});
process.stdout.write('publisher ready\n');
const stop = async () => {
  await reader.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
