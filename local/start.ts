import { definedSettings } from '../lib/config';
import { PAGE_ROUTES } from './pages';
import { DEMO_USER, ROUTES, startLocalServer } from './server';

/** `npm start`: the whole service on http://127.0.0.1:$PORT (default 3000). Ctrl-C stops everything. */
// The SDK warns that releases after January 2027 need Node 22; the lockfile pins a release that runs on 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const port = Number(process.env.PORT ?? 3000);
// Settings from the environment win over the local defaults, so `TOKEN_TTL_MINUTES=5 npm start` works.
const server = await startLocalServer({
  port,
  env: definedSettings(process.env),
  seedDemoUser: true,
  printEmails: true,
});

process.stdout.write(`
Password reset service running on ${server.url}
  POST ${ROUTES.request}   {"email"}
  POST ${ROUTES.confirm}   {"token","newPassword"}
Local only: GET /__local/outbox, POST /__local/users, POST /__local/login, PUT /__local/kill-switch
OpenAPI 3.1 document: ${server.url}/__local/openapi.json (checked in as docs/openapi.json)
Reset pages: ${server.url}${PAGE_ROUTES.forgotPassword}; the emailed link opens ${server.url}${PAGE_ROUTES.resetPassword}
Demo user: ${DEMO_USER.email} / "${DEMO_USER.password}"
PasswordChanged events: ${server.passwordEvents ? `GET /__local/events (EventBridge stand-in, bus ${server.passwordEvents.bus.eventBusName})` : 'off'}
DynamoDB Local (pid ${server.dynamo?.pid}) at ${server.dynamoEndpoint}, SSM stand-in at ${server.ssm.endpoint}
Resets: handed to the reset worker and mail to the sender, both on the SQS stand-in at ${server.sqs.endpoint}; mail goes to ${server.emailTarget}${server.storeDelay ? `\nDynamoDB slowed: every call held ${process.env.LOCAL_STORE_DELAY_MS} ms each way (LOCAL_STORE_DELAY_MS)` : ''}
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the server and DynamoDB Local...\n`);
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
