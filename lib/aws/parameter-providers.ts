import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import { type AwsJsonCall, type AwsJsonOptions, createAwsJsonCall } from './aws-json-request';

/**
 * Powertools Parameters providers (its cache, maxAge, forceFetch and GetParameterError wrapping,
 * from BaseProvider) over one signed call each instead of the generated SSM and Secrets Manager
 * clients: see aws-json-request.ts for why. Each reads a single value; neither lists.
 */
abstract class SingleValueProvider extends BaseProvider {
  protected readonly call: AwsJsonCall;

  constructor(call: AwsJsonCall) {
    super({});
    this.call = call;
  }

  protected _getMultiple(): Promise<Record<string, unknown> | undefined> {
    return Promise.reject(new Error(`${this.constructor.name} reads single values only`));
  }
}

/** SSM GetParameter, without decryption (the kill-switch is a plain String parameter). */
export class SsmParameterProvider extends SingleValueProvider {
  constructor(options: AwsJsonOptions) {
    super(
      createAwsJsonCall(
        { service: 'ssm', targetPrefix: 'AmazonSSM', endpointVariable: 'AWS_ENDPOINT_URL_SSM' },
        options,
      ),
    );
  }

  protected async _get(name: string): Promise<string | undefined> {
    const output = (await this.call('GetParameter', { Name: name })) as { Parameter?: { Value?: string } };
    return output.Parameter?.Value;
  }
}

/** Secrets Manager GetSecretValue (AWSCURRENT): the string, or the binary secret's bytes. */
export class SecretValueProvider extends SingleValueProvider {
  constructor(options: AwsJsonOptions) {
    super(
      createAwsJsonCall(
        {
          service: 'secretsmanager',
          targetPrefix: 'secretsmanager',
          endpointVariable: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
        },
        options,
      ),
    );
  }

  protected async _get(secretId: string): Promise<string | Uint8Array | undefined> {
    const output = (await this.call('GetSecretValue', { SecretId: secretId })) as {
      SecretString?: string;
      SecretBinary?: string;
    };
    if (output.SecretString !== undefined) return output.SecretString;
    return output.SecretBinary === undefined ? undefined : Buffer.from(output.SecretBinary, 'base64');
  }
}
