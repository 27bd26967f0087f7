import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type Config, loadConfig } from '../lib/config';
import { mockEmailProvider } from '../lib/email/mock-provider';
import { EmailDeliveryError } from '../lib/errors';
import { buildOpenApiDocument } from '../lib/http/openapi';
import { problemResponse } from '../lib/http/problem';
import { ROUTES } from '../lib/http/routes';
import { lambdaContext, toApiGatewayEvent, writeResult } from './api-gateway';
import { type DelayProxy, startDelayProxy } from './delay-proxy';
import { type DynamoDbLocal, LOCAL_AWS_ENV, startDynamoDbLocal } from './dynamodb-local';
import { type EventSourceMapping, startEventSourceMapping } from './event-source-mapping';
import { freePort } from './free-port';
import { isJsonContentType, isLoopbackHost } from './host-guard';
import { injectFault, type LocalFaults, LocalMailbox, localFaults } from './mailbox';
import { localResetLinkTemplate, servePage } from './pages';
import { type LocalPasswordEvents, startLocalPasswordEvents } from './password-events';
import { startSesEmulator } from './ses-emulator';
import { startSmtpSink } from './smtp-sink';
import { type SqsStandIn, startSqsStandIn } from './sqs-stand-in';
import { type SsmStandIn, startSsmStandIn } from './ssm-stand-in';
import { createTables } from './tables';
import { LocalAccounts } from './users';

/**
 * The whole service on one machine: DynamoDB Local, an SSM stand-in, and an HTTP server that
 * feeds API Gateway v2 events to the SAME Lambda handlers that AWS runs. The /__local routes
 * exist only here; the CDK stack has no such routes.
 */
export { ROUTES };

export const LOCAL_DEFAULTS: Record<string, string> = {
  TOKEN_TABLE_NAME: 'password-reset-tokens',
  USERS_TABLE_NAME: 'password-reset-users',
  USERS_EMAIL_INDEX_NAME: 'email-index',
  KILL_SWITCH_PARAMETER_NAME: '/password-reset/local/email-kill-switch',
  KILL_SWITCH_CACHE_SECONDS: '5',
  // npm start's own reset page; startLocalServer points it at the port it really serves on.
  RESET_LINK_TEMPLATE: localResetLinkTemplate('http://127.0.0.1:3000'),
  POWERTOOLS_METRICS_NAMESPACE: 'PasswordReset',
  PASSWORD_CHANGED_EVENTS: 'true',
  // A fresh account-key salt per run, as a deployment gets its own secret: never the public default.
  ACCOUNT_KEY_SALT: randomBytes(32).toString('base64url'),
  // startLocalServer points these at its SQS stand-in; the defaults let a bare import start.
  EMAIL_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/password-reset-email',
  EMAIL_DLQ_URL: 'http://127.0.0.1:9324/000000000000/password-reset-email-dlq',
  RESET_JOBS_QUEUE_URL: 'http://127.0.0.1:9324/000000000000/password-reset-jobs',
  RESET_JOBS_DLQ_URL: 'http://127.0.0.1:9324/000000000000/password-reset-jobs-dlq',
};

/** The email queue and its dead-letter queue, as the CDK stack names their roles. */
export const EMAIL_QUEUES = {
  queue: 'password-reset-email',
  deadLetter: 'password-reset-email-dlq',
} as const;
/** The reset worker's job queue and its dead-letter queue. */
export const JOB_QUEUES = {
  queue: 'password-reset-jobs',
  deadLetter: 'password-reset-jobs-dlq',
} as const;
const LOCAL_EMAIL_FROM = 'Market <no-reply@market.example.com>';

export const DEMO_USER = { email: 'demo@example.com', password: 'correct horse battery staple' } as const;

export interface LocalServerOptions {
  /** 0 or unset: a free port, chosen before the handlers load so that emailed links point here. */
  port?: number;
  /** Settings on top of LOCAL_DEFAULTS, e.g. lower rate limits in a test. */
  env?: Record<string, string>;
  /** Reuse a running DynamoDB Local (tests share one) instead of starting one. */
  dynamoEndpoint?: string;
  seedDemoUser?: boolean;
  /** Print each delivered email to the console (npm start does). */
  printEmails?: boolean;
  killSwitch?: { enabled: boolean; dryRun: boolean };
}

export interface LocalServer {
  url: string;
  port: number;
  config: Config;
  dynamo: DynamoDbLocal | undefined;
  dynamoEndpoint: string;
  ssm: SsmStandIn;
  sqs: SqsStandIn;
  /** What the provider (mock, SES emulator or SMTP server) received. */
  outbox: LocalMailbox;
  /** Where mail goes, for the banner. */
  emailTarget: string;
  /** Resolves once the job and email queues are empty and no batch is in the worker or the sender. */
  emailSettled(timeoutMs?: number): Promise<void>;
  /** The delaying proxy in front of DynamoDB Local, when LOCAL_STORE_DELAY_MS is set. */
  storeDelay: DelayProxy | undefined;
  /** The worker's and the sender's event source mappings (pause, resume, handled). */
  mappings: { worker: EventSourceMapping; sender: EventSourceMapping };
  /** LOCAL_EMAIL_DELAY_MS / LOCAL_EMAIL_FAIL_RATE as started; change the fields to change them live. */
  emailFaults: LocalFaults;
  /** The email dead-letter queue's messages, parsed. */
  deadLetters(): unknown[];
  /** The job dead-letter queue's messages, parsed. */
  jobDeadLetters(): unknown[];
  accounts: LocalAccounts;
  documentClient: DynamoDBDocumentClient;
  /** The EventBridge stand-in and stream reader, when PASSWORD_CHANGED_EVENTS is on. */
  passwordEvents: LocalPasswordEvents | undefined;
  setKillSwitch(value: { enabled: boolean; dryRun: boolean }): void;
  stop(): Promise<void>;
}

const credentials = z.strictObject({
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(256),
});
/** What the marketplace's own settings page changes; any outstanding reset link dies with it. */
const userUpdate = z.strictObject({
  email: z.string().min(3).max(254),
  newEmail: z.string().min(3).max(254).optional(),
  newPassword: z.string().min(1).max(256).optional(),
});
const killSwitchBody = z.strictObject({ enabled: z.boolean(), dryRun: z.boolean() });
const MAX_LOCAL_BODY = 64 * 1024;

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const dynamo = options.dynamoEndpoint ? undefined : await startDynamoDbLocal();
  const storeEndpoint = options.dynamoEndpoint ?? (dynamo as DynamoDbLocal).endpoint;
  // The handlers bind the link template when first imported, so the port is chosen before
  // they load: emailed links then open this server's own reset page.
  const port = options.port || (await freePort());
  const env: Record<string, string> = {
    ...LOCAL_DEFAULTS,
    RESET_LINK_TEMPLATE: localResetLinkTemplate(`http://127.0.0.1:${port}`),
    ...options.env,
  };
  const parameterName = env.KILL_SWITCH_PARAMETER_NAME as string;
  const ssm = await startSsmStandIn({
    [parameterName]: JSON.stringify(options.killSwitch ?? { enabled: true, dryRun: false }),
  });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };

  try {
    // LOCAL_STORE_DELAY_MS=N: every DynamoDB call is held N ms each way, to see a slow store.
    const storeDelayMs = Number(env.LOCAL_STORE_DELAY_MS ?? 0);
    const storeDelay = storeDelayMs > 0 ? await startDelayProxy(storeEndpoint) : undefined;
    if (storeDelay) {
      storeDelay.set({ requestMs: storeDelayMs, responseMs: storeDelayMs });
      stops.push(storeDelay.close);
    }
    const dynamoEndpoint = storeDelay?.endpoint ?? storeEndpoint;
    // Email: a queue stand-in, the provider's emulator, and a mailbox of what it received.
    const mailbox = new LocalMailbox((env.RESET_LINK_TEMPLATE ?? '').split('{token}')[0] ?? '');
    const faults = localFaults(env);
    const provider = env.EMAIL_PROVIDER ?? 'mock';
    const maxAttempts = Number(env.EMAIL_MAX_ATTEMPTS ?? 8);
    const sqs = await startSqsStandIn({
      [EMAIL_QUEUES.queue]: {
        visibilityTimeoutSeconds: 30,
        // A backstop, as deployed: the sender dead-letters on its own after maxAttempts.
        deadLetter: { queue: EMAIL_QUEUES.deadLetter, maxReceiveCount: maxAttempts + 2 },
      },
      [EMAIL_QUEUES.deadLetter]: {},
      [JOB_QUEUES.queue]: {
        visibilityTimeoutSeconds: 30,
        // A backstop, as deployed: the worker dead-letters on its own after its attempts.
        deadLetter: {
          queue: JOB_QUEUES.deadLetter,
          maxReceiveCount: Number(env.RESET_JOB_MAX_ATTEMPTS ?? 10) + 2,
        },
      },
      [JOB_QUEUES.deadLetter]: {},
    });
    stops.push(sqs.stop);
    const emailEnv: Record<string, string> = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      EMAIL_QUEUE_URL: sqs.queueUrl(EMAIL_QUEUES.queue),
      EMAIL_DLQ_URL: sqs.queueUrl(EMAIL_QUEUES.deadLetter),
      RESET_JOBS_QUEUE_URL: sqs.queueUrl(JOB_QUEUES.queue),
      RESET_JOBS_DLQ_URL: sqs.queueUrl(JOB_QUEUES.deadLetter),
    };
    let emailTarget = 'the in-memory mock provider (GET /__local/outbox)';
    if (provider === 'ses') {
      const ses = await startSesEmulator(mailbox, faults);
      stops.push(ses.stop);
      emailEnv.AWS_ENDPOINT_URL_SESV2 = ses.endpoint;
      emailEnv.EMAIL_FROM = env.EMAIL_FROM ?? LOCAL_EMAIL_FROM;
      emailTarget = `SES v2 (aws-ses-v2-local at ${ses.emulatorEndpoint}, its web view at ${ses.emulatorEndpoint}/)`;
    } else if (provider === 'smtp') {
      const smtp = await startSmtpSink(mailbox, faults);
      stops.push(smtp.stop);
      emailEnv.SMTP_URL = env.SMTP_URL ?? smtp.url;
      emailEnv.EMAIL_FROM = env.EMAIL_FROM ?? LOCAL_EMAIL_FROM;
      emailTarget = `SMTP (local smtp-server at ${smtp.url})`;
    } else {
      mockEmailProvider.beforeDeliver = async () => {
        if (await injectFault(faults)) throw new EmailDeliveryError(true, 'injected_fault');
      };
      const unsubscribe = mockEmailProvider.onDeliver((message) =>
        mailbox.record({
          to: message.to,
          template: message.template,
          subject: message.subject,
          text: message.text,
          html: message.html,
          provider: 'mock',
        }),
      );
      stops.push(async () => {
        unsubscribe();
        mockEmailProvider.beforeDeliver = undefined;
      });
    }
    if (faults.delayMs > 0 || faults.failRate > 0)
      emailTarget += `, with faults: delay 0..${faults.delayMs} ms, transient failure rate ${faults.failRate}`;

    // The handlers read their config and build their clients when first imported,
    // so the environment must be complete before the dynamic imports below.
    Object.assign(process.env, LOCAL_AWS_ENV, env, emailEnv, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    });
    const config = loadConfig();
    const rawClient = new DynamoDBClient({});
    const documentClient = DynamoDBDocumentClient.from(rawClient);
    await createTables(rawClient, {
      tokenTable: config.tokenTableName,
      usersTable: config.usersTableName,
      emailIndex: config.usersEmailIndexName,
      tokenStream: config.passwordChangedEvents,
    }).catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
    const accounts = new LocalAccounts(documentClient, config);
    if (options.seedDemoUser) await accounts.create(DEMO_USER.email, DEMO_USER.password);

    const [
      { handler: requestHandler },
      { handler: confirmHandler },
      { handler: workerHandler },
      { handler: senderHandler },
    ] = await Promise.all([
      import('../functions/request-reset'),
      import('../functions/confirm-reset'),
      import('../functions/reset-worker'),
      import('../functions/email-sender'),
    ]);
    // The worker and the sender run as deployed: their own handlers, fed batches by event source mappings.
    const startMapping = (queue: string, functionName: string, handler: typeof workerHandler) => {
      const mapping: EventSourceMapping = startEventSourceMapping({
        queueUrl: sqs.queueUrl(queue),
        queueArn: sqs.queueArn(queue),
        endpoint: sqs.endpoint,
        functionName,
        handler: (event, context) => handler(event, context),
        // As Lambda would log an invocation error; the batch then returns after its visibility timeout.
        onError: (error) =>
          process.stderr.write(
            `[${functionName}] ${error instanceof Error ? error.name : 'error'}: batch left on the queue\n`,
          ),
      });
      stops.push(mapping.stop);
      return mapping;
    };
    const worker = startMapping(JOB_QUEUES.queue, 'password-reset-worker', workerHandler);
    const sender = startMapping(EMAIL_QUEUES.queue, 'password-reset-email-sender', senderHandler);
    const mappings = [
      { queue: JOB_QUEUES.queue, mapping: worker },
      { queue: EMAIL_QUEUES.queue, mapping: sender },
    ];
    // Jobs make mail: settled when neither queue holds a message and no batch is in a handler.
    const emailSettled = async (timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      const busy = () =>
        mappings.some(({ queue, mapping }) => sqs.messages(queue).length > 0 || mapping.inFlight > 0);
      while (busy()) {
        if (Date.now() > deadline) throw new Error(`job and email queues not drained within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const lambdas: Record<string, typeof requestHandler> = {
      [ROUTES.request]: requestHandler,
      [ROUTES.confirm]: confirmHandler,
    };
    const passwordEvents = config.passwordChangedEvents
      ? await startLocalPasswordEvents({ dynamoEndpoint, tokenTableName: config.tokenTableName })
      : undefined;
    if (passwordEvents) stops.push(passwordEvents.stop);
    const setKillSwitch = (value: { enabled: boolean; dryRun: boolean }) =>
      ssm.put(parameterName, JSON.stringify(value));

    const route = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
      const address = server.address();
      const listeningPort = typeof address === 'object' && address ? address.port : 0;
      if (!isLoopbackHost(req.headers.host, listeningPort))
        return writeResult(res, problemResponse('invalid_request', { detail: 'Unexpected Host header' }));
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (await servePage(req, res, path)) return;
      const lambda = lambdas[path];
      if (lambda) {
        if (req.method !== 'POST')
          return writeResult(res, problemResponse('method_not_allowed', {}, { Allow: 'POST' }));
        return writeResult(
          res,
          await lambda(
            toApiGatewayEvent(req, body),
            lambdaContext(path === ROUTES.request ? 'password-reset-request' : 'password-reset-confirm'),
          ),
        );
      }
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(value));
      };
      const parse = <T>(schema: z.ZodType<T>): T | undefined => {
        if (!isJsonContentType(req.headers['content-type'])) {
          writeResult(res, problemResponse('unsupported_media_type'));
          return undefined;
        }
        try {
          const parsed = schema.safeParse(JSON.parse(body.toString('utf8')));
          if (parsed.success) return parsed.data;
        } catch {}
        writeResult(res, problemResponse('invalid_request'));
        return undefined;
      };
      const key = `${req.method} ${path}`;
      if (key === 'GET /__local/outbox') return json(200, mailbox.outbox());
      // The OpenAPI document, built from the code this server runs (docs/openapi.json is its checked-in copy).
      if (key === 'GET /__local/openapi.json') return json(200, buildOpenApiDocument());
      if (key === 'GET /__local/events' && passwordEvents) return json(200, passwordEvents.bus.events());
      if (key === 'POST /__local/users') {
        const input = parse(credentials);
        if (!input) return;
        const created = await accounts.create(input.email, input.password);
        return 'conflict' in created ? json(409, { code: 'email_taken' }) : json(201, created);
      }
      if (key === 'POST /__local/login') {
        const input = parse(credentials);
        if (!input) return;
        const user = await accounts.login(input.email, input.password);
        return user ? json(200, user) : json(401, { code: 'invalid_credentials' });
      }
      if (key === 'POST /__local/users/update') {
        const input = parse(userUpdate);
        if (!input) return;
        const updated = await accounts.update(input);
        return updated ? json(200, updated) : json(404, { code: 'no_such_user' });
      }
      if (key === 'PUT /__local/kill-switch') {
        const input = parse(killSwitchBody);
        if (!input) return;
        setKillSwitch(input);
        return json(200, { ...input, takesEffectWithinSeconds: config.killSwitchCacheSeconds });
      }
      return writeResult(res, problemResponse('not_found'));
    };

    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_LOCAL_BODY) chunks.push(chunk);
      });
      req.on('end', () => {
        // API Gateway also caps payloads; past this size the handler never sees the body.
        if (size > MAX_LOCAL_BODY) return writeResult(res, problemResponse('payload_too_large'));
        route(req, res, Buffer.concat(chunks)).catch(() => {
          if (!res.headersSent) writeResult(res, problemResponse('internal_error'));
        });
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });

    const unsubscribe = options.printEmails ? mailbox.onDeliver(printEmail) : () => false;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      config,
      dynamo,
      dynamoEndpoint,
      ssm,
      sqs,
      outbox: mailbox,
      emailTarget,
      emailSettled,
      storeDelay,
      mappings: {
        worker: (mappings[0] as (typeof mappings)[number]).mapping,
        sender: (mappings[1] as (typeof mappings)[number]).mapping,
      },
      emailFaults: faults,
      deadLetters: () => sqs.messages(EMAIL_QUEUES.deadLetter).map((m) => JSON.parse(m.body) as unknown),
      jobDeadLetters: () => sqs.messages(JOB_QUEUES.deadLetter).map((m) => JSON.parse(m.body) as unknown),
      accounts,
      documentClient,
      passwordEvents,
      setKillSwitch,
      stop: async () => {
        unsubscribe();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await stopAll();
        rawClient.destroy();
        await ssm.stop();
        await dynamo?.stop();
      },
    };
  } catch (error) {
    await stopAll();
    await ssm.stop();
    await dynamo?.stop();
    throw error;
  }
}

/** The local mailbox. This is not the service's log stream, which never holds a link. */
function printEmail(message: { to: string; subject: string; text: string; provider: string }): void {
  process.stdout.write(
    `\n──── ${message.provider} email to ${message.to}: ${message.subject} ────\n${message.text}\n────────────────────────────────\n`,
  );
}
