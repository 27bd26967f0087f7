import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/transport';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsServiceError, createAwsJsonCall } from '../../lib/aws/aws-json-request';
import { SecretValueProvider, SsmParameterProvider } from '../../lib/aws/parameter-providers';
import { SqsChecksumError, signedSendMessage } from '../../lib/aws/send-message';
import { signedUpdateItem, type UpdateItem, type UpdateItemInput } from '../../lib/aws/update-item';
import { sdkUpdateItem } from '../../lib/dynamo';
import { DependencyUnavailableError } from '../../lib/errors';
import { SqsResetJobQueue } from '../../lib/jobs/reset-job';
import { startSqsStandIn } from '../../local/sqs-stand-in';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const SSM = { service: 'ssm', targetPrefix: 'AmazonSSM', endpointVariable: 'AWS_ENDPOINT_URL_SSM' };

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  url: string;
}
type Answer = { status: number; body: unknown } | 'hang' | 'stall-body';

let server: Server | undefined;
const savedEnv = { ...process.env };
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
  process.env = { ...savedEnv };
});

/** A loopback service that answers each call with the next answer and records what it got. */
async function service(...answers: Answer[]) {
  const received: Received[] = [];
  server?.closeAllConnections();
  server?.close();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        url: req.url ?? '',
      });
      const answer = answers[Math.min(received.length, answers.length) - 1] ?? { status: 500, body: {} };
      if (answer === 'hang') return;
      if (answer === 'stall-body') {
        // Headers and the start of a body, then nothing: the handler's own timeout has ended.
        res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.write('{"Parameter":');
        return;
      }
      res.writeHead(answer.status, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SSM: endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_SQS: endpoint,
  };
  // The providers read the environment as deployed code does.
  Object.assign(process.env, env);
  return { received, env };
}

const options = { maxAttempts: 2, connectionTimeoutMs: 500, requestTimeoutMs: 300 };

describe('signed AWS JSON calls', () => {
  it('sends the operation as AWS JSON 1.1 with a SigV4 signature over exactly what was sent', async () => {
    const { received, env } = await service({ status: 200, body: { Parameter: { Value: 'v' } } });
    const call = createAwsJsonCall(SSM, { ...options, env });

    const output = await call('GetParameter', { Name: '/reset/kill-switch' });

    expect(output).toEqual({ Parameter: { Value: 'v' } });
    const [request] = received as [Received];
    expect(request.headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(request.body)).toEqual({ Name: '/reset/kill-switch' });
    const authorization = String(request.headers.authorization);
    expect(authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ssm\/aws4_request, /,
    );
    // Re-sign what the server received at the same instant: the signatures must match.
    const amzDate = String(request.headers['x-amz-date']);
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`,
    );
    const host = String(request.headers.host);
    const resigned = await new SignatureV4({
      service: 'ssm',
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      sha256: Sha256,
    }).sign(
      new HttpRequest({
        protocol: 'http:',
        hostname: host.split(':')[0] ?? '',
        port: Number(host.split(':')[1]),
        method: 'POST',
        path: request.url,
        headers: {
          host,
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'AmazonSSM.GetParameter',
        },
        body: request.body,
      }),
      { signingDate },
    );
    expect(authorization).toBe(resigned.headers.authorization);
  });

  it('names a service error as the service did, and does not retry a 4xx', async () => {
    const { received, env } = await service({
      status: 400,
      body: { __type: 'com.amazonaws.ssm#ParameterNotFound', message: 'Parameter /x not found' },
    });
    const call = createAwsJsonCall(SSM, { ...options, env });

    const failure = await call('GetParameter', { Name: '/x' }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(AwsServiceError);
    expect(failure).toMatchObject({
      name: 'ParameterNotFound',
      message: 'Parameter /x not found',
      statusCode: 400,
    });
    expect(received).toHaveLength(1);
  });

  it('retries throttling and 5xx answers up to maxAttempts', async () => {
    const { received, env } = await service(
      { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
      { status: 200, body: { Parameter: { Value: 'v' } } },
    );
    const call = createAwsJsonCall(SSM, { ...options, env });

    await expect(call('GetParameter', { Name: '/x' })).resolves.toEqual({ Parameter: { Value: 'v' } });
    expect(received).toHaveLength(2);

    const failing = await service({ status: 502, body: '<html>Bad Gateway</html>' });
    const failingCall = createAwsJsonCall(SSM, { ...options, env: failing.env });
    await expect(failingCall('GetParameter', { Name: '/x' })).rejects.toMatchObject({ name: 'Http502' });
    expect(failing.received).toHaveLength(2);
  });

  it('gives up on a service that never answers within the request timeout of each attempt', async () => {
    const { received, env } = await service('hang');
    const call = createAwsJsonCall(SSM, { ...options, env });
    const started = Date.now();

    await expect(call('GetParameter', { Name: '/x' })).rejects.toThrow();

    expect(received).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2 * options.requestTimeoutMs + 1_000);
  });

  it('gives up on a body that stalls after the headers, each attempt bounded', async () => {
    const { received, env } = await service('stall-body');
    const call = createAwsJsonCall(SSM, { ...options, env });

    // Without the per-attempt bound this never settles and the test times out.
    await expect(call('GetParameter', { Name: '/x' })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(received).toHaveLength(2);
  });

  it('fails the call, not the import, without a region', async () => {
    const call = createAwsJsonCall(SSM, { ...options, env: {} });

    await expect(call('GetParameter', { Name: '/x' })).rejects.toMatchObject({ name: 'RegionMissing' });
  });
});

describe('parameter providers', () => {
  it('reads an SSM parameter through the Powertools cache', async () => {
    const { received } = await service({ status: 200, body: { Parameter: { Value: '{"enabled":true}' } } });
    const provider = new SsmParameterProvider(options);

    expect(await provider.get('/reset/kill-switch', { maxAge: 30 })).toBe('{"enabled":true}');
    expect(await provider.get('/reset/kill-switch', { maxAge: 30 })).toBe('{"enabled":true}');
    expect(received).toHaveLength(1);
  });

  it('wraps a failed read in GetParameterError, as Powertools does', async () => {
    await service({ status: 400, body: { __type: 'AccessDeniedException', message: 'denied' } });
    const provider = new SsmParameterProvider(options);

    const failure = await provider.get('/reset/kill-switch').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(GetParameterError);
    expect((failure as Error).cause).toMatchObject({ name: 'AccessDeniedException' });
  });

  it('reads a secret string, or a binary secret as bytes', async () => {
    const { received } = await service(
      { status: 200, body: { SecretString: 'salt-value' } },
      { status: 200, body: { SecretBinary: Buffer.from([1, 2, 3]).toString('base64') } },
    );
    const provider = new SecretValueProvider(options);

    expect(await provider.get('arn:aws:secretsmanager:eu-west-1:1:secret:a', { maxAge: 60 })).toBe(
      'salt-value',
    );
    expect(await provider.get('arn:aws:secretsmanager:eu-west-1:1:secret:b', { maxAge: 60 })).toEqual(
      Buffer.from([1, 2, 3]),
    );
    expect(received.map((request) => request.headers['x-amz-target'])).toEqual([
      'secretsmanager.GetSecretValue',
      'secretsmanager.GetSecretValue',
    ]);
    expect(JSON.parse(received[0]?.body ?? '')).toEqual({
      SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:a',
    });
  });
});

const LIMITER_UPDATE: UpdateItemInput = {
  TableName: 'tokens',
  Key: { pk: { S: 'rate#request-ip#k' } },
  UpdateExpression: 'ADD #w0 :one',
  ConditionExpression: '(attribute_not_exists(#w0) OR #w0 < :limit0)',
  ExpressionAttributeNames: { '#w0': 'w60_1800000000' },
  ExpressionAttributeValues: { ':one': { N: '1' }, ':limit0': { N: '5' } },
  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
};
const CONDITION_FAILED = {
  __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
  message: 'The conditional request failed',
  Item: { pk: { S: 'rate#request-ip#k' }, w60_1800000000: { N: '5' } },
};

describe('signed AWS JSON 1.0 calls', () => {
  it('sends DynamoDB UpdateItem as AWS JSON 1.0 to the endpoint root, signed for dynamodb', async () => {
    const { received, env } = await service({ status: 200, body: {} });
    const updateItem = signedUpdateItem({ ...options, env });

    const outcome = await updateItem(LIMITER_UPDATE);

    expect(outcome).toEqual({ conditionFailed: false });
    const [request] = received as [Received];
    expect(request.url).toBe('/');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-target']).toBe('DynamoDB_20120810.UpdateItem');
    expect(String(request.headers.authorization)).toMatch(/\/eu-west-1\/dynamodb\/aws4_request, /);
    expect(JSON.parse(request.body)).toEqual(LIMITER_UPDATE);
  });

  it("keeps a service error's parsed body, where a conditional failure carries the old item", async () => {
    const { env } = await service({ status: 400, body: CONDITION_FAILED });
    const call = createAwsJsonCall(
      {
        service: 'dynamodb',
        targetPrefix: 'DynamoDB_20120810',
        endpointVariable: 'AWS_ENDPOINT_URL_DYNAMODB',
      },
      { ...options, env },
    );

    const failure = await call('UpdateItem', { ...LIMITER_UPDATE }).catch((error: unknown) => error);

    expect(failure).toMatchObject({ name: 'ConditionalCheckFailedException', statusCode: 400 });
    expect((failure as AwsServiceError).body.Item).toEqual(CONDITION_FAILED.Item);
  });

  it('sends SQS SendMessage to the endpoint root with the queue in the body, and checks the MD5', async () => {
    const body = '{"id":"job"}';
    const md5 = createHash('md5').update(body).digest('hex');
    const { received, env } = await service(
      { status: 200, body: { MessageId: 'm-1', MD5OfMessageBody: md5 } },
      { status: 200, body: { MessageId: 'm-2', MD5OfMessageBody: 'not-the-body' } },
    );
    const sendMessage = signedSendMessage({ ...options, env });
    const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/reset-jobs';

    await sendMessage(queueUrl, body);
    const mismatch = await sendMessage(queueUrl, body).catch((error: unknown) => error);

    const [request] = received as [Received];
    expect(request.url).toBe('/');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-target']).toBe('AmazonSQS.SendMessage');
    expect(String(request.headers.authorization)).toMatch(/\/eu-west-1\/sqs\/aws4_request, /);
    expect(JSON.parse(request.body)).toEqual({ QueueUrl: queueUrl, MessageBody: body });
    expect(mismatch).toBeInstanceOf(SqsChecksumError);
  });

  it("does not retry past the caller's own deadline", async () => {
    const { received, env } = await service('hang');
    const sendMessage = signedSendMessage({ ...options, maxAttempts: 3, env });
    const started = Date.now();

    await expect(
      sendMessage('http://queue/000000000000/q', 'x', { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow();

    expect(received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(options.requestTimeoutMs);
  });

  it('hands a job to the local SQS stand-in, which takes the signed SendMessage as it is', async () => {
    const sqs = await startSqsStandIn({ 'reset-jobs': {} });
    try {
      const env = { ...process.env, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_SQS: sqs.endpoint };
      const queue = new SqsResetJobQueue(signedSendMessage({ ...options, env }), sqs.queueUrl('reset-jobs'));

      await queue.enqueue(JOB);

      expect(sqs.messages('reset-jobs').map((m) => JSON.parse(m.body))).toEqual([JOB]);
    } finally {
      await sqs.stop();
    }
  });

  it('fails a hand-off the queue did not take as DependencyUnavailableError, whatever the reason', async () => {
    const { env } = await service({
      status: 400,
      body: { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' },
    });
    const queue = new SqsResetJobQueue(signedSendMessage({ ...options, env }), 'http://q/0/missing');

    const failure = await queue.enqueue(JOB).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(DependencyUnavailableError);
    expect((failure as Error).cause).toMatchObject({ name: 'QueueDoesNotExist' });
  });
});

const JOB = {
  id: '2f1c1a3e-5b7d-4c1e-9f2a-0b1c2d3e4f50',
  email: 'someone@example.com',
  method: 'link' as const,
  sourceIp: '192.0.2.1',
  requestId: 'req-1',
  requestedAt: 1_800_000_000_000,
};

/** Both UpdateItem adapters, answered by the same loopback service: they must mean the same. */
const ADAPTERS: Array<[string, (env: NodeJS.ProcessEnv) => UpdateItem]> = [
  ['the signed call', (env) => signedUpdateItem({ ...options, env })],
  [
    'the SDK client',
    (env) =>
      sdkUpdateItem(
        new DynamoDBClient({
          endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
          region: env.AWS_REGION,
          credentials: CREDENTIALS,
          maxAttempts: options.maxAttempts,
          requestHandler: { connectionTimeout: 500, requestTimeout: 300, throwOnRequestTimeout: true },
        }),
      ),
  ],
];

describe.each(ADAPTERS)('UpdateItem over %s', (_name, adapter) => {
  it('answers a failed condition as an outcome, with the item as it was', async () => {
    const { received, env } = await service({ status: 400, body: CONDITION_FAILED });

    const outcome = await adapter(env)(LIMITER_UPDATE);

    expect(outcome).toEqual({ conditionFailed: true, item: CONDITION_FAILED.Item });
    expect(received).toHaveLength(1);
  });

  it.each([
    [
      'throttling',
      { status: 400, body: { __type: 'ProvisionedThroughputExceededException', message: 'slow' } },
    ],
    ['a 500', { status: 500, body: { __type: 'InternalServerError', message: 'oops' } }],
    ['a proxy 502 page', { status: 502, body: '<html>Bad Gateway</html>' }],
  ] as const)(
    'turns %s, retried to the last attempt, into DependencyUnavailableError',
    async (_what, answer) => {
      const { received, env } = await service(answer);

      const failure = await adapter(env)(LIMITER_UPDATE).catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(DependencyUnavailableError);
      expect(received).toHaveLength(options.maxAttempts);
    },
  );

  it('turns a refused connection and an unanswered call into DependencyUnavailableError', async () => {
    const { env } = await service('hang');
    const refused = { ...env, AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' };

    const hung = await adapter(env)(LIMITER_UPDATE).catch((error: unknown) => error);
    const closed = await adapter(refused)(LIMITER_UPDATE).catch((error: unknown) => error);

    expect(hung).toBeInstanceOf(DependencyUnavailableError);
    expect(closed).toBeInstanceOf(DependencyUnavailableError);
  });

  it('rethrows a request the service refused as it is, once: a bug, not an outage', async () => {
    const { received, env } = await service({
      status: 400,
      body: { __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: 'bad expression' },
    });

    const failure = await adapter(env)(LIMITER_UPDATE).catch((error: unknown) => error);

    expect(failure).not.toBeInstanceOf(DependencyUnavailableError);
    expect(failure).toMatchObject({ name: 'ValidationException' });
    expect(received).toHaveLength(1);
  });
});
