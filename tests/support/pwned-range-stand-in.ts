import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Pwned Passwords range API: it serves fixture ranges built from the
 * given breached passwords plus padding lines (count 0), and records every request it saw.
 */
export interface RangeStandIn {
  url: string;
  requests: { path: string; padding: string | undefined }[];
  stop: () => Promise<void>;
}

export async function startRangeStandIn(
  breached: string[],
  behaviour: { delayMs?: number; status?: number } = {},
): Promise<RangeStandIn> {
  const ranges = new Map<string, string[]>();
  for (const password of breached) {
    const digest = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const lines = ranges.get(digest.slice(0, 5)) ?? [];
    lines.push(`${digest.slice(5)}:${1000 + lines.length}`);
    ranges.set(digest.slice(0, 5), lines);
  }
  const requests: RangeStandIn['requests'] = [];
  const server: Server = createServer((request, response) => {
    requests.push({ path: request.url ?? '', padding: request.headers['add-padding'] as string | undefined });
    const prefix = /^\/range\/([0-9A-F]{5})$/.exec(request.url ?? '')?.[1];
    setTimeout(() => {
      if (behaviour.status || !prefix) {
        response.writeHead(behaviour.status ?? 400).end();
        return;
      }
      const padding = Array.from({ length: 5 }, (_, i) => `${String(i).repeat(35)}:0`);
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end([...(ranges.get(prefix) ?? []), ...padding].join('\r\n'));
    }, behaviour.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
