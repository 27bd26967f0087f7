import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface ServiceSecretsProps {
  /** The origin-verify secret CloudFront sends exists only with edge protection. */
  edgeProtection: boolean;
  removalPolicy: RemovalPolicy;
}

/**
 * The secrets Secrets Manager generates at deploy time, behind the `*_SECRET_ARN` variables of
 * the shared environment: the functions resolve them at cold start (lib/secrets.ts).
 *
 * The secrets are the stack's children, not this construct's: their logical IDs predate it, and a
 * new one would replace a secret and its value.
 */
export class ServiceSecrets extends Construct {
  /** The HMAC key for pseudonymous account and IP keys: random per deployment. */
  readonly accountKey: Secret;
  readonly originVerify: Secret | undefined;
  readonly all: Secret[];

  constructor(scope: Construct, id: string, props: ServiceSecretsProps) {
    super(scope, id);
    this.accountKey = new Secret(scope, 'AccountKeySecret', {
      description: 'HMAC key for pseudonymous account and IP keys in logs and rate-limit counters',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: props.removalPolicy,
    });
    this.originVerify = props.edgeProtection
      ? new Secret(scope, 'OriginVerifySecret', {
          description: 'Sent by CloudFront to the API; requests without it are refused by the functions',
          generateSecretString: { passwordLength: 48, excludePunctuation: true },
          removalPolicy: props.removalPolicy,
        })
      : undefined;
    this.all = [this.accountKey, ...(this.originVerify ? [this.originVerify] : [])];
    for (const secret of this.all) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'Not rotated automatically: a new account key would reset every per-account counter mid-window, and a new origin secret must reach CloudFront and the functions together. Rotate by replacing the secret and redeploying.',
      });
    }
  }

  /** The environment variables that name the secrets. */
  get environment(): Record<string, string> {
    return {
      ACCOUNT_KEY_SECRET_ARN: this.accountKey.secretArn,
      ...(this.originVerify ? { ORIGIN_VERIFY_SECRET_ARN: this.originVerify.secretArn } : {}),
    };
  }

  /** Any function given the shared environment resolves its secret ARNs, so needs this. */
  grantRead(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        sid: 'ReadServiceSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: this.all.map((secret) => secret.secretArn),
      }),
    );
  }
}
