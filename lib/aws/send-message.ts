import { createHash } from 'node:crypto';
import { type AwsJsonOptions, CLIENT_OPTIONS, createAwsJsonCall } from './aws-json-request';

/**
 * SQS SendMessage over one signed AWS JSON 1.0 call instead of the generated SQS client: the
 * request and confirm functions send nothing else to SQS. SQS's JSON protocol posts to the endpoint's root and names
 * the queue in the body. Throws when the queue did not take the message (any failure alike).
 */
export type SendMessage = (
  queueUrl: string,
  body: string,
  options?: { signal?: AbortSignal },
) => Promise<void>;

export function signedSendMessage(options: AwsJsonOptions = CLIENT_OPTIONS): SendMessage {
  const call = createAwsJsonCall(
    {
      service: 'sqs',
      targetPrefix: 'AmazonSQS',
      endpointVariable: 'AWS_ENDPOINT_URL_SQS',
      jsonVersion: '1.0',
    },
    options,
  );
  return async (queueUrl, body, { signal } = {}) => {
    const output = (await call(
      'SendMessage',
      { QueueUrl: queueUrl, MessageBody: body },
      signal ? { signal } : {},
    )) as { MD5OfMessageBody?: string };
    // The SDK's own check: the queue holds exactly the body that was sent.
    const md5 = createHash('md5').update(body, 'utf8').digest('hex');
    if (output.MD5OfMessageBody !== md5) throw new SqsChecksumError(output.MD5OfMessageBody);
  };
}

/** SQS acknowledged a body other than the one sent. */
export class SqsChecksumError extends Error {
  override name = 'SqsChecksumError';
  constructor(received: string | undefined) {
    super(`SendMessage answered MD5 ${received ?? '(none)'}, not the body's`);
  }
}
