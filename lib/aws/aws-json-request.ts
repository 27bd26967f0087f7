import { partition } from '@aws-sdk/core/client';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { streamCollector } from '@smithy/core/serde';
import { HttpRequest } from '@smithy/core/transport';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * One call of an AWS JSON service (1.1: SSM GetParameter, Secrets Manager GetSecretValue; 1.0:
 * DynamoDB UpdateItem, SQS SendMessage), signed and sent with the SDK's own SigV4 signer,
 * credentials chain and HTTP handler. Written by hand for cold start only: a generated client
 * registers every error and schema of its service (SSM's is 77 KiB of each API function's
 * bundle; DynamoDB's, lib-dynamodb's and SQS's together cost the request function about 38 ms of
 * import), for the one operation a function calls. Retried as the SDK's standard strategy does,
 * a write whose answer was lost included: a limiter hit may then count twice (the safe side)
 * and a job be sent twice (worked once). The deployed bundle's credentials are Lambda's
 * environment (infra/bundling.ts aliases the chain); local runs keep the SDK's default chain.
 */
export interface AwsJsonService {
  /** The signing name and endpoint prefix: `ssm`, `secretsmanager`, `dynamodb`, `sqs`. */
  service: string;
  /** The X-Amz-Target prefix: `AmazonSSM`, `secretsmanager`, `DynamoDB_20120810`, `AmazonSQS`. */
  targetPrefix: string;
  /** The SDK's service-specific endpoint variable, e.g. AWS_ENDPOINT_URL_SSM. */
  endpointVariable: string;
  /** The protocol's version, the content type's suffix: 1.0 for DynamoDB and SQS; 1.1 by default. */
  jsonVersion?: '1.0' | '1.1';
}

export interface AwsJsonOptions {
  maxAttempts: number;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
}

/** The SDK clients' settings (lib/dynamo.ts, lib/aws/clients.ts), for calls that stand in for them. */
export const CLIENT_OPTIONS: AwsJsonOptions = {
  maxAttempts: 3,
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
};

/**
 * A service error as the service named it (`ParameterNotFound`, `ThrottlingException`), with
 * the parsed error body: a conditional failure's body carries the item when asked for.
 */
export class AwsServiceError extends Error {
  constructor(
    name: string,
    message: string,
    readonly statusCode: number,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = name;
  }
}

export type AwsJsonCall = (
  operation: string,
  input: Record<string, unknown>,
  options?: { signal?: AbortSignal },
) => Promise<unknown>;

// The SDK's throttling and transient codes (@smithy/service-error-classification), and the
// services' own 5xx names.
const RETRYABLE_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'TransactionInProgressException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalServerError',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
]);

export function createAwsJsonCall(target: AwsJsonService, options: AwsJsonOptions): AwsJsonCall {
  const env = options.env ?? process.env;
  const handler = new NodeHttpHandler({
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    throwOnRequestTimeout: true,
  });
  const credentials = defaultProvider();
  let signer: SignatureV4 | undefined;
  let endpoint: URL | undefined;

  const contentType = `application/x-amz-json-${target.jsonVersion ?? '1.1'}`;

  const send = async (operation: string, body: string, caller: AbortSignal | undefined) => {
    // Resolved on first use, as the SDK does: a missing region fails the call, not the import.
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) throw new AwsServiceError('RegionMissing', 'AWS_REGION is not set', 0);
    endpoint ??= new URL(
      env[target.endpointVariable] ??
        env.AWS_ENDPOINT_URL ??
        `https://${target.service}.${region}.${partition(region).dnsSuffix}`,
    );
    signer ??= new SignatureV4({ service: target.service, region, credentials, sha256: Sha256 });
    const request = new HttpRequest({
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port ? Number(endpoint.port) : undefined,
      method: 'POST',
      // JSON protocols post every operation to the endpoint's root (SQS: QueueUrl is in the body).
      path: endpoint.pathname,
      headers: {
        host: endpoint.host,
        'content-type': contentType,
        'x-amz-target': `${target.targetPrefix}.${operation}`,
      },
      body,
    });
    // The handler's requestTimeout ends when the headers arrive; this bounds the whole attempt,
    // body included, so a body that stalls cannot hold the caller until the Lambda times out.
    const timeout = AbortSignal.timeout(options.connectionTimeoutMs + options.requestTimeoutMs);
    const signal = caller ? AbortSignal.any([timeout, caller]) : timeout;
    const { response } = await handler.handle((await signer.sign(request)) as HttpRequest, {
      abortSignal: signal,
    });
    const text = Buffer.from(await untilAborted(streamCollector(response.body), signal)).toString('utf8');
    if (response.statusCode >= 200 && response.statusCode < 300) return text ? JSON.parse(text) : {};
    // An error body may not be JSON at all (a proxy's 502 page): the status still names it.
    const parsed = parseObject(text);
    // `__type` is "ParameterNotFound" or "com.amazonaws.ssm#ParameterNotFound".
    const type = String(
      parsed.__type ?? response.headers['x-amzn-errortype'] ?? `Http${response.statusCode}`,
    );
    const name = type.split('#').pop()?.split(':')[0] || `Http${response.statusCode}`;
    throw new AwsServiceError(
      name,
      String(parsed.message ?? parsed.Message ?? name),
      response.statusCode,
      parsed,
    );
  };

  return async (operation, input, { signal } = {}) => {
    const body = JSON.stringify(input);
    for (let attempt = 1; ; attempt++) {
      try {
        return await send(operation, body, signal);
      } catch (error) {
        // The caller's own deadline has passed: another attempt would overrun it.
        if (attempt >= options.maxAttempts || signal?.aborted || !isRetryable(error)) throw error;
        // Full jitter on a 100 ms base, as the SDK's standard retry strategy.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** (attempt - 1)));
      }
    }
  };
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Throttling, 5xx and network failures are worth one more try; a 4xx answer is not. */
function isRetryable(error: unknown): boolean {
  if (error instanceof AwsServiceError)
    return error.statusCode >= 500 || error.statusCode === 429 || RETRYABLE_ERRORS.has(error.name);
  return !(error instanceof SyntaxError);
}
