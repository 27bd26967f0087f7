import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import type { PasswordResetStack } from '../../infra/password-reset-stack';
import { EDGE, PROD, SES } from '../../infra/variants';

/** A full prod deployment's context, with SES (prod refuses the mock provider): it must synthesize. */
export const PROD_CONTEXT = { ...PROD, ...SES };
export const EDGE_CONTEXT = EDGE;

/** Builds the app as `cdk synth` does (cdk-nag included), without bundling unless asked. */
export function synth(context: Record<string, unknown> = {}, bundle = false) {
  const app = new App({
    // PasswordChanged events have their own tests (tests/infra/password-events.test.ts): off unless asked.
    context: {
      passwordChangedEvents: 'false',
      ...context,
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const { stack, edgeStack } = buildApp(app);
  return {
    app,
    stack,
    edgeStack,
    template: Template.fromStack(stack),
    edgeTemplate: edgeStack ? Template.fromStack(edgeStack) : undefined,
  };
}

/** A function of the stack's function table, by id; throws if there is none. */
export function functionOf(stack: PasswordResetStack, id: string) {
  const fn = stack.functions[id];
  if (!fn) throw new Error(`no function ${id} in the stack`);
  return fn;
}

interface PluginReport {
  pluginName: string;
  violations: Array<{ ruleName: string }>;
  suppressedViolations: Array<{ acknowledgedId: string; acknowledgedAt: string }>;
}

/** cdk-nag's findings from a synthesized assembly: open ones and acknowledged ones, per pack. */
export function nagReport(app: App) {
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
    pluginReports: PluginReport[];
  };
  const acknowledgements = assembly.stacks.flatMap((stack) =>
    stack.findMetadataByType('aws:cdk:acknowledged-rules').flatMap((entry) =>
      Object.entries(entry.data as unknown as Record<string, string>).map(([id, reason]) => ({
        path: entry.path.replace(/^\//, ''),
        id,
        reason,
      })),
    ),
  );
  return { plugins: report.pluginReports, acknowledgements };
}
