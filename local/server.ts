import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type Config, loadConfig } from '../lib/config';
import { type MockEmailProvider, mockEmailProvider } from '../lib/email/mock-provider';
import { problemResponse } from '../lib/http/problem';
import { lambdaContext, toApiGatewayEvent, writeResult } from './api-gateway';
import { type DynamoDbLocal, LOCAL_AWS_ENV, startDynamoDbLocal } from './dynamodb-local';
import { type SsmStandIn, startSsmStandIn } from './ssm-stand-in';
import { createTables } from './tables';
import { LocalAccounts } from './users';

/**
 * The whole service on one machine: DynamoDB Local, an SSM stand-in, and an HTTP server that
 * feeds API Gateway v2 events to the SAME Lambda handlers that AWS runs. The /__local routes
 * exist only here; the CDK stack has no such routes.
 */
export const ROUTES = {
  request: '/api/auth/password-reset/request',
  confirm: '/api/auth/password-reset/confirm',
} as const;

export const LOCAL_DEFAULTS: Record<string, string> = {
  TOKEN_TABLE_NAME: 'password-reset-tokens',
  USERS_TABLE_NAME: 'password-reset-users',
  USERS_EMAIL_INDEX_NAME: 'email-index',
  KILL_SWITCH_PARAMETER_NAME: '/password-reset/local/email-kill-switch',
  KILL_SWITCH_CACHE_SECONDS: '5',
  RESET_LINK_TEMPLATE: 'https://market.example.com/reset-password#token={token}',
  POWERTOOLS_METRICS_NAMESPACE: 'PasswordReset',
  // A fresh account-key salt per run, as a deployment gets its own secret: never the public default.
  ACCOUNT_KEY_SALT: randomBytes(32).toString('base64url'),
};

export const DEMO_USER = { email: 'demo@example.com', password: 'correct horse battery staple' } as const;

export interface LocalServerOptions {
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
  outbox: MockEmailProvider;
  accounts: LocalAccounts;
  documentClient: DynamoDBDocumentClient;
  setKillSwitch(value: { enabled: boolean; dryRun: boolean }): void;
  stop(): Promise<void>;
}

const credentials = z.strictObject({
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(256),
});
const killSwitchBody = z.strictObject({ enabled: z.boolean(), dryRun: z.boolean() });
const MAX_LOCAL_BODY = 64 * 1024;

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const dynamo = options.dynamoEndpoint ? undefined : await startDynamoDbLocal();
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo as DynamoDbLocal).endpoint;
  const env = { ...LOCAL_DEFAULTS, ...options.env };
  const parameterName = env.KILL_SWITCH_PARAMETER_NAME as string;
  const ssm = await startSsmStandIn({
    [parameterName]: JSON.stringify(options.killSwitch ?? { enabled: true, dryRun: false }),
  });

  try {
    // The handlers read their config and build their clients when first imported,
    // so the environment must be complete before the dynamic imports below.
    Object.assign(process.env, LOCAL_AWS_ENV, env, {
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
    }).catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
    const accounts = new LocalAccounts(documentClient, config);
    if (options.seedDemoUser) await accounts.create(DEMO_USER.email, DEMO_USER.password);

    const [{ handler: requestHandler }, { handler: confirmHandler }] = await Promise.all([
      import('../functions/request-reset'),
      import('../functions/confirm-reset'),
    ]);
    const lambdas: Record<string, typeof requestHandler> = {
      [ROUTES.request]: requestHandler,
      [ROUTES.confirm]: confirmHandler,
    };
    const setKillSwitch = (value: { enabled: boolean; dryRun: boolean }) =>
      ssm.put(parameterName, JSON.stringify(value));

    const route = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
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
        try {
          const parsed = schema.safeParse(JSON.parse(body.toString('utf8')));
          if (parsed.success) return parsed.data;
        } catch {}
        writeResult(res, problemResponse('invalid_request'));
        return undefined;
      };
      const key = `${req.method} ${path}`;
      if (key === 'GET /__local/outbox') return json(200, mockEmailProvider.outbox());
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
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });

    const unsubscribe = options.printEmails ? mockEmailProvider.onDeliver(printEmail) : () => false;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      config,
      dynamo,
      dynamoEndpoint,
      ssm,
      outbox: mockEmailProvider,
      accounts,
      documentClient,
      setKillSwitch,
      stop: async () => {
        unsubscribe();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        rawClient.destroy();
        await ssm.stop();
        await dynamo?.stop();
      },
    };
  } catch (error) {
    await ssm.stop();
    await dynamo?.stop();
    throw error;
  }
}

/** The local mailbox. This is not the service's log stream, which never holds a link. */
function printEmail(message: { to: string; subject: string; text: string }): void {
  process.stdout.write(
    `\n──── mock email to ${message.to}: ${message.subject} ────\n${message.text}\n────────────────────────────────\n`,
  );
}
