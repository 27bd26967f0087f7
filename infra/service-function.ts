import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type Alias, Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource, type SqsEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BUNDLING } from './bundling';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The newest Node.js runtime this aws-cdk-lib offers. */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;

export interface ServiceFunctionProps {
  /** The handler, relative to the project root: `functions/<name>.ts`. */
  entry: string;
  /** MB; 256 unless given. */
  memorySize?: number;
  timeout: Duration;
  reservedConcurrency?: number | undefined;
  environment: Record<string, string>;
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
  tracing: boolean;
  /** What its role is for. By default: runs the `<id>` function, with permissions added one by one. */
  roleDescription?: string;
  /**
   * Why a failed invocation has nothing to dead-letter (cdk-nag's LambdaDLQ): how the function is
   * invoked, and what handles its failures instead.
   */
  whyNoDeadLetterQueue: string;
  /** A `live` alias, for callers that must not invoke $LATEST (API routes, canary deployments). */
  liveAlias?: boolean;
}

/**
 * One of the service's functions, bundled by the local esbuild for ARM64: its own role (no
 * managed policies; callers add statements one by one), its own log group with retention, an
 * optional `live` alias, and the nag acknowledgements every such function needs.
 *
 * The role and the log group are its siblings, `<id>Role` and `<id>Logs`, not its children: their
 * logical IDs predate this construct, and a new one would replace the log group.
 */
export class ServiceFunction extends NodejsFunction {
  readonly alias: Alias | undefined;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.retention,
      removalPolicy: props.removalPolicy,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description:
        props.roleDescription ??
        `Runs the ${id} function; data permissions are added statement by statement.`,
    });
    // No IAM5 acknowledgement for the log group: grantWrite raises no finding.
    logGroup.grantWrite(role);
    super(scope, id, {
      entry: join(ROOT, props.entry),
      handler: 'handler',
      runtime: LAMBDA_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role,
      logGroup,
      environment: props.environment,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      bundling: BUNDLING,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      projectRoot: ROOT,
    });
    this.alias = props.liveAlias ? this.addAlias('live') : undefined;

    Validations.of(this).acknowledge({
      id: 'Serverless::Serverless-LambdaDLQ',
      reason: props.whyNoDeadLetterQueue,
    });
    if (props.tracing) {
      Validations.of(role).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.',
      });
    } else {
      Validations.of(this).acknowledge({
        id: 'Serverless::Serverless-LambdaTracing',
        reason: 'X-Ray is on by default in prod; dev leaves it off unless -c tracing=true, to save cost.',
      });
    }
  }

  /** Feeds the function from a queue, whose redrive policy handles the messages it fails. */
  addQueueSource(queue: IQueue, props: SqsEventSourceProps): void {
    this.addEventSource(new SqsEventSource(queue, props));
    Validations.of(this).acknowledge({
      id: 'Serverless::Serverless-LambdaEventSourceMappingDestination',
      reason:
        "SQS event source mappings take no on-failure destination; the queue's redrive policy (maxReceiveCount) sends failed messages to the dead-letter queue.",
    });
  }
}
