/**
 * DNS rebinding defence for the local server: a page on evil.example can point its own name at
 * 127.0.0.1, and the browser then sends `Host: evil.example:3000`. Answering only to the loopback
 * names keeps such a page from reading /__local/outbox and the live reset links in it.
 */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** The /__local routes take JSON only, so a cross-site form post (text/plain) cannot reach them. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}
