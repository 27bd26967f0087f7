import { App, RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { SERVICE_NAME } from '../lib/telemetry';
import { EdgeFirewallStack } from './edge';
import { PasswordResetStack } from './password-reset-stack';
import { CONTEXT_KEYS, readSettings } from './settings';

/**
 * The CDK app: one service stack per stage (plus, with edgeProtection, its WAF web ACL in
 * us-east-1), checked by cdk-nag's AWS Solutions and Serverless packs on every synth.
 */
export function buildApp(app = new App()): {
  app: App;
  stack: PasswordResetStack;
  edgeStack: EdgeFirewallStack | undefined;
} {
  // Any unacknowledged finding fails the synth, warnings included (by default aws-cdk-lib lets
  // warnings pass once any finding in a pack is acknowledged).
  app.node.setContext('@aws-cdk/core:strictCfnValidateErrors', true);
  const context = Object.fromEntries(CONTEXT_KEYS.map((key) => [key, app.node.tryGetContext(key)]));
  const settings = readSettings(context);
  const prod = settings.stage === 'prod';
  // Pinned where given (required in prod): a prod deploy can never land in the wrong account.
  const env = settings.account ? { account: settings.account, region: settings.region } : undefined;

  const edgeStack = settings.edgeProtection
    ? new EdgeFirewallStack(app, `PasswordResetEdge-${settings.stage}`, {
        env: { account: settings.account, region: 'us-east-1' },
        crossRegionReferences: true,
        terminationProtection: prod,
        stage: settings.stage,
        rateLimitPer5Minutes: settings.edgeRateLimit,
        retention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS,
        removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
        description: `Password reset (${settings.stage}): AWS WAF web ACL for the CloudFront distribution`,
      })
    : undefined;
  const stack = new PasswordResetStack(app, `PasswordReset-${settings.stage}`, {
    settings,
    env,
    terminationProtection: prod,
    crossRegionReferences: settings.edgeProtection,
    edgeWebAclArn: edgeStack?.webAclArn,
    description: `Password reset service (${settings.stage}): two public endpoints on API Gateway HTTP API and Lambda`,
  });
  for (const scope of [stack, edgeStack]) {
    if (!scope) continue;
    // The CloudFormation schema (cfn-lint E3002) has no Tags on dashboards.
    const tagged = { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] };
    Tags.of(scope).add('service', SERVICE_NAME, tagged);
    Tags.of(scope).add('stage', settings.stage, tagged);
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack, edgeStack };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
