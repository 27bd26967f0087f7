import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { TEMPLATE_HEADER } from '../lib/email/providers/ses-provider';
import type { TemplateName } from '../lib/email/send-email';
import { freePort } from './free-port';
import { injectFault, type LocalFaults, type LocalMailbox } from './mailbox';

/**
 * The aws-ses-v2-local emulator (an npm package) on a free loopback port, behind a thin proxy
 * that injects the local faults (a 429 TooManyRequestsException, as SES throttles) and, after
 * each accepted SendEmail, reads the stored message back from the emulator's /store into the
 * local mailbox: the outbox shows what SES received, not what we meant to send.
 */
export interface SesEmulator {
  /** Point AWS_ENDPOINT_URL_SESV2 here. */
  endpoint: string;
  emulatorEndpoint: string;
  stop(): Promise<void>;
}

interface StoredEmail {
  messageId: string;
  destination: { to: string[] };
  subject: string;
  body: { text?: string; html?: string };
  headers?: Array<{ name: string; value: string }>;
}

/** The HTML spec's e-mail grammar, which is what aws-ses-v2-local itself uses elsewhere. */
const EMAIL_ADDRESS =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function recipientsValid(body: Buffer): boolean {
  try {
    const input = JSON.parse(body.toString('utf8')) as { Destination?: { ToAddresses?: string[] } };
    return (input.Destination?.ToAddresses ?? []).every((address) => EMAIL_ADDRESS.test(address));
  } catch {
    return true; // not ours to judge: the emulator answers malformed JSON itself
  }
}

export async function startSesEmulator(mailbox: LocalMailbox, faults: LocalFaults): Promise<SesEmulator> {
  const module = (await import('aws-ses-v2-local')) as unknown as {
    default: { default?: (config: { host: string; port: number }) => Promise<Server> } & ((config: {
      host: string;
      port: number;
    }) => Promise<Server>);
  };
  const start = module.default.default ?? module.default;
  const emulatorPort = await freePort();
  const emulator = await start({ host: '127.0.0.1', port: emulatorPort });
  const emulatorEndpoint = `http://127.0.0.1:${emulatorPort}`;

  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const isSend = req.method === 'POST' && req.url === '/v2/email/outbound-emails';
    if (isSend && !recipientsValid(body)) {
      // Real SES refuses a malformed recipient synchronously; the emulator does not check.
      res.writeHead(400, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'BadRequestException' });
      return res.end(JSON.stringify({ message: 'Illegal address' }));
    }
    if (isSend && (await injectFault(faults))) {
      res.writeHead(429, {
        'Content-Type': 'application/json',
        'x-amzn-ErrorType': 'TooManyRequestsException',
      });
      return res.end(JSON.stringify({ message: 'Too many requests (injected fault)' }));
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'connection'),
    ) as Record<string, string>;
    const upstream = await fetch(`${emulatorEndpoint}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(body.length > 0 ? { body } : {}),
    });
    const text = await upstream.text();
    if (isSend && upstream.ok) {
      const { MessageId } = JSON.parse(text) as { MessageId: string };
      const store = (await (await fetch(`${emulatorEndpoint}/store`)).json()) as { emails: StoredEmail[] };
      const stored = store.emails.find((email) => email.messageId === MessageId);
      if (stored) {
        mailbox.record({
          to: stored.destination.to[0] ?? '',
          template: (stored.headers?.find((h) => h.name === TEMPLATE_HEADER)?.value ??
            'password_reset') as TemplateName,
          subject: stored.subject,
          text: stored.body.text ?? '',
          html: stored.body.html ?? '',
          provider: 'ses',
        });
      }
    }
    res.writeHead(upstream.status, {
      'Content-Type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(text);
  };

  const port = await freePort();
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      forward(req, res, Buffer.concat(chunks)).catch(() => {
        res.writeHead(503, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'ServiceUnavailable' });
        res.end(JSON.stringify({ message: 'emulator unavailable' }));
      });
    });
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));

  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    emulatorEndpoint,
    stop: async () => {
      await close(proxy);
      await close(emulator);
    },
  };
}
