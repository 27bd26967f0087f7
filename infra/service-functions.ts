import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ROUTES } from '../lib/http/routes';
import { TOKEN_KEY_PREFIXES } from '../lib/table-schema';
import { ServiceFunction } from './service-function';
import type { Settings } from './settings';

/** Actions a function may take on the token table's items of the kinds (key prefixes) named. */
export interface TokenItemGrant {
  sid: string;
  actions: readonly string[];
  prefixes: readonly string[];
}

/** What a function may do with the users table; infra/permissions.ts turns each into one statement. */
export type UsersAccess = 'queryByEmail' | 'readBinding' | 'readEmail' | 'updatePassword';

/** One row of the function table. */
export interface FunctionSpec {
  /** Its construct id: the function is `<id>`, its role `<id>Role`, its log group `<id>Logs`. */
  id: string;
  /** Prefixes what concerns it: its alarms (`<name>FunctionErrors`, ...), `<name>Integration`, `<name>Deployment`. */
  name: string;
  /** The handler, relative to the project root. */
  entry: string;
  /**
   * The public POST route that invokes it through its `live` alias, which a prod canary shifts.
   * None for a function fed by a queue (`ServiceFunction.addQueueSource`).
   */
  route?: string;
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency: number | undefined;
  tokenItems: readonly TokenItemGrant[];
  users: readonly UsersAccess[];
  /** Hands mail to the email queue (infra/email-delivery.ts). */
  sendsEmail?: boolean;
  /** Skips addresses that bounced or complained. */
  readsSuppressions?: boolean;
  /** Writes a PasswordChanged outbox item in its reset transaction (infra/password-events.ts). */
  writesOutbox?: boolean;
}

/** A row of the table and the function built from it. */
export interface BuiltFunction {
  spec: FunctionSpec;
  fn: ServiceFunction;
}

/** What every function of the table shares. */
export interface SharedFunctionProps {
  environment: Record<string, string>;
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
  tracing: boolean;
}

/** Builds each row's function in `scope`, with a `live` alias for a routed one. */
export function buildFunctions(
  scope: Construct,
  specs: FunctionSpec[],
  shared: SharedFunctionProps,
): BuiltFunction[] {
  return specs.map((spec) => ({
    spec,
    fn: new ServiceFunction(scope, spec.id, {
      ...shared,
      entry: spec.entry,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      reservedConcurrency: spec.reservedConcurrency,
      liveAlias: spec.route !== undefined,
      whyNoDeadLetterQueue: spec.route
        ? 'Invoked synchronously by API Gateway only: a failed invocation is answered to the caller (5xx, alarmed), there is no async event to dead-letter.'
        : 'Invoked by an SQS event source mapping, never asynchronously: failures return to its queue, whose redrive policy dead-letters them.',
    }),
  }));
}

/** The functions whose rows set `flag`. */
export function functionsThat(
  functions: BuiltFunction[],
  flag: 'sendsEmail' | 'readsSuppressions' | 'writesOutbox',
): ServiceFunction[] {
  return functions.filter(({ spec }) => spec[flag]).map(({ fn }) => fn);
}

const { token, active, flow, rate } = TOKEN_KEY_PREFIXES;

/**
 * The service's own functions, which get the shared environment, the kill-switch and the service
 * secrets. Each row feeds its function, its route, its grants, its alarms and its canary.
 */
export function serviceFunctions(settings: Settings): FunctionSpec[] {
  return [
    {
      id: 'RequestReset',
      name: 'Request',
      entry: 'functions/request-reset.ts',
      route: ROUTES.request,
      memoryMb: settings.requestMemoryMb,
      timeoutSeconds: settings.requestTimeoutSeconds,
      reservedConcurrency: settings.requestReservedConcurrency,
      tokenItems: [
        // Code flows: real ones with the active pointer, and phantom ones alone.
        { sid: 'WriteTokens', actions: ['dynamodb:PutItem'], prefixes: [token, active, flow] },
        { sid: 'CountRequests', actions: ['dynamodb:UpdateItem'], prefixes: [rate] },
      ],
      users: ['queryByEmail', 'readBinding'],
      sendsEmail: true,
      readsSuppressions: true,
    },
    {
      id: 'ConfirmReset',
      name: 'Confirm',
      entry: 'functions/confirm-reset.ts',
      route: ROUTES.confirm,
      // bcrypt is pure CPU, and Lambda's CPU share grows with memory: confirm gets more.
      memoryMb: settings.confirmMemoryMb,
      timeoutSeconds: settings.confirmTimeoutSeconds,
      reservedConcurrency: settings.confirmReservedConcurrency,
      tokenItems: [
        // A refused code charge reads its flow once, for the audit reason.
        { sid: 'ReadTokens', actions: ['dynamodb:GetItem'], prefixes: [token, flow] },
        // The claim before bcrypt and its release are conditional updates of the token or flow
        // item; so are a code's attempt charge and its refund.
        { sid: 'ClaimTokens', actions: ['dynamodb:UpdateItem'], prefixes: [token, flow] },
        { sid: 'ReadActivePointers', actions: ['dynamodb:BatchGetItem'], prefixes: [active] },
        { sid: 'ConsumeTokens', actions: ['dynamodb:DeleteItem'], prefixes: [token, active, flow] },
        { sid: 'CountConfirms', actions: ['dynamodb:UpdateItem'], prefixes: [rate] },
      ],
      users: ['readEmail', 'updatePassword'],
      sendsEmail: true,
      writesOutbox: true,
    },
  ];
}
