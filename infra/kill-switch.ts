import { Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IStringParameter, StringParameter } from 'aws-cdk-lib/aws-ssm';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export const KILL_SWITCH_DEFAULT = { enabled: true, dryRun: false } as const;

export interface KillSwitchProps {
  parameterName: string;
  /** Delete the parameter with the stack (dev). In prod it outlives the stack. */
  deleteWithStack: boolean;
}

/**
 * The email kill-switch parameter, owned by the operator, not by CloudFormation:
 * - created once with its default (PutParameter, Overwrite false), and never written again:
 *   there is no onUpdate, so no redeploy and no context change can reset it mid-incident;
 * - ParameterAlreadyExists is fine: a stack re-created over a kept parameter keeps its value;
 * - on stack deletion it is deleted only in dev.
 */
export class KillSwitchParameter extends Construct {
  readonly parameter: IStringParameter;
  readonly parameterName: string;

  constructor(scope: Construct, id: string, props: KillSwitchProps) {
    super(scope, id);
    const { parameterName } = props;
    const stack = Stack.of(this);
    const parameterArn = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: parameterName.replace(/^\//, ''),
    });
    const create: AwsSdkCall = {
      service: 'SSM',
      action: 'putParameter',
      parameters: {
        Name: parameterName,
        Type: 'String',
        Value: JSON.stringify(KILL_SWITCH_DEFAULT),
        Overwrite: false,
        Description: 'Email kill-switch {"enabled": boolean, "dryRun": boolean}. Owned by the operator.',
      },
      physicalResourceId: PhysicalResourceId.of(parameterName),
      ignoreErrorCodesMatching: 'ParameterAlreadyExists',
    };
    const remove: AwsSdkCall | undefined = props.deleteWithStack
      ? {
          service: 'SSM',
          action: 'deleteParameter',
          parameters: { Name: parameterName },
          ignoreErrorCodesMatching: 'ParameterNotFound',
        }
      : undefined;
    new AwsCustomResource(this, 'CreateOnce', {
      resourceType: 'Custom::KillSwitchParameter',
      onCreate: create,
      ...(remove ? { onDelete: remove } : {}),
      installLatestAwsSdk: false,
      memorySize: 256,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          actions: props.deleteWithStack ? ['ssm:PutParameter', 'ssm:DeleteParameter'] : ['ssm:PutParameter'],
          resources: [parameterArn],
        }),
      ]),
    });
    this.parameterName = parameterName;
    this.parameter = StringParameter.fromStringParameterAttributes(this, 'Parameter', {
      parameterName,
      simpleName: false,
    });
    acknowledgeProviderFindings(stack);
  }
}

/**
 * The one Lambda function CDK shares between AwsCustomResources in a stack; it runs only during
 * deploys. Its one finding is the managed policy on its role.
 */
export function acknowledgeProviderFindings(stack: Stack): void {
  const target = stack.node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
  if (!target) return;
  const reasons: Record<string, string> = {
    'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
      'The custom resource provider (deploy time only) uses AWSLambdaBasicExecutionRole for its own log writes; its SSM rights are a separate, resource-scoped policy.',
    'Serverless::Serverless-LambdaDLQ':
      'CloudFormation invokes the custom resource provider synchronously and reports its failure: there is no async event to dead-letter.',
    'Serverless::Serverless-LambdaTracing':
      'The custom resource provider runs once per deploy for one SSM call; a trace of it would add nothing an operator acts on.',
  };
  for (const [id, reason] of Object.entries(reasons)) Validations.of(target).acknowledge({ id, reason });
}
