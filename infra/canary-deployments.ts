import { Validations } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { LambdaDeploymentConfig, LambdaDeploymentGroup } from 'aws-cdk-lib/aws-codedeploy';
import { Construct } from 'constructs';
import type { BuiltFunction } from './service-functions';

export interface CanaryDeploymentsProps {
  /** Each function with a `live` alias gets its deployment group `<name>Deployment`. */
  functions: BuiltFunction[];
  rollbackAlarms: IAlarm[];
}

/**
 * Prod: each deploy shifts 10% of a function's traffic to the new version for 5 minutes, and
 * rolls back on alarm.
 *
 * The deployment groups are the stack's children, not this construct's: their logical IDs
 * predate it, and CloudFormation would replace them in the middle of the deploy that shifts
 * traffic through them.
 */
export class CanaryDeployments extends Construct {
  constructor(scope: Construct, id: string, props: CanaryDeploymentsProps) {
    super(scope, id);
    for (const { spec, fn } of props.functions) {
      if (!fn.alias) continue;
      const group = new LambdaDeploymentGroup(scope, `${spec.name}Deployment`, {
        alias: fn.alias,
        deploymentConfig: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
        alarms: props.rollbackAlarms,
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      Validations.of(group).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
        reason:
          "CodeDeploy's own service role for Lambda canaries: AWS maintains its narrow alias-shifting permissions.",
      });
    }
  }
}
