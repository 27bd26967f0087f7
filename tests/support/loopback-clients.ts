import { type IncomingHttpHeaders, request } from 'node:http';
import type { MailboxEntry } from '../../local/mailbox';
import { type LocalServer, ROUTES } from '../../local/server';
import { tokenFromLink } from './http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Wall time from the call to the last byte. */
  ms: number;
  json(): Record<string, unknown>;
}

/**
 * POSTs JSON from a chosen loopback address (all of 127.0.0.0/8 is loopback on Linux), so
 * concurrent requests come from distinct clients and per-IP and per-network limits apply as
 * they would in production, unlifted.
 */
export function postFrom(
  baseUrl: string,
  localAddress: string,
  path: string,
  body: unknown,
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${baseUrl}${path}`,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            ms: performance.now() - started,
            json: () => JSON.parse(text) as Record<string, unknown>,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let nextNetwork = 0;
/** A loopback address on a /24 of its own, so the silent per-network limit starts afresh. */
export function freshNetwork(): string {
  nextNetwork++;
  return `127.${100 + Math.floor(nextNetwork / 256)}.${nextNetwork % 256}.7`;
}

/**
 * A distinct loopback client per call, one counter per caller: `secondOctet` keeps one suite's
 * clients apart from the networks its requests come from.
 */
export function clientAddresses(secondOctet: number): () => string {
  let next = 0;
  return () => {
    next++;
    return `127.${secondOctet + Math.floor(next / 65_536)}.${Math.floor(next / 256) % 256}.${next % 256 || 1}`;
  };
}

/**
 * Asks for a reset once and returns what `pick` takes from its email: the worker mails every
 * accepted request for a known account, however slow the store, so one ask must be enough.
 */
async function askAndRead<T>(
  server: LocalServer,
  body: { email: string; method?: 'code' },
  pick: (message: MailboxEntry, answer: Answer) => T | undefined,
): Promise<T> {
  const before = server.outbox.outbox().length;
  const answer = await postFrom(server.url, freshNetwork(), ROUTES.request, body);
  if (answer.status !== 200) throw new Error(`request answered ${answer.status}`);
  await server.emailSettled();
  const message = server.outbox
    .outbox()
    .slice(before)
    .findLast((m) => m.to === body.email);
  const picked = message ? pick(message, answer) : undefined;
  if (picked === undefined) throw new Error(`no reset email for ${body.email}`);
  return picked;
}

/** A fresh reset link's token for `email`. */
export const linkFor = (server: LocalServer, email: string): Promise<string> =>
  askAndRead(server, { email }, (m) =>
    m.template === 'password_reset' && m.link ? tokenFromLink(m.link) : undefined,
  );

/** A fresh code flow for `email` (code mode must be enabled). */
export const codeFor = (server: LocalServer, email: string): Promise<{ flowId: string; code: string }> =>
  askAndRead(server, { email, method: 'code' }, (m, answer) =>
    m.template === 'password_reset_code' && m.code
      ? { flowId: String(answer.json().flowId), code: m.code }
      : undefined,
  );
