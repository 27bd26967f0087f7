import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PasswordResetStack } from './password-reset-stack';
import { CONTEXT_KEYS, readSettings } from './settings';

/** The CDK app: one stack per stage, checked by cdk-nag's AWS Solutions pack on every synth. */
export function buildApp(app = new App()): { app: App; stack: PasswordResetStack } {
  const context = Object.fromEntries(CONTEXT_KEYS.map((key) => [key, app.node.tryGetContext(key)]));
  const settings = readSettings(context);
  const stack = new PasswordResetStack(app, `PasswordReset-${settings.stage}`, {
    settings,
    description: `Password reset service (${settings.stage}): two public endpoints on API Gateway HTTP API and Lambda`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
