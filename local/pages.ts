import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { problemResponse } from '../lib/http/problem';
import { writeResult } from './api-gateway';

/**
 * The reference reset pages, served only by `npm start` (the deployed API has no pages).
 * They are plain files in local/pages/: HTML, one JS module per page and a stylesheet,
 * with no build step, so a front-end developer can read them as the reference.
 */
export const PAGE_ROUTES = {
  resetPassword: '/reset-password',
  forgotPassword: '/forgot-password',
} as const;

/** The link in every local email: the token rides in the fragment, which no request carries. */
export function localResetLinkTemplate(origin: string): string {
  return `${origin}${PAGE_ROUTES.resetPassword}#token={token}`;
}

const PAGES_DIR = new URL('./pages/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Exact paths only, fixed when the module loads: a URL is looked up, never joined onto a
 * directory, so no encoding trick can reach another file.
 */
const FILES: Record<string, string> = {
  [PAGE_ROUTES.resetPassword]: 'reset-password.html',
  [PAGE_ROUTES.forgotPassword]: 'forgot-password.html',
  ...Object.fromEntries(
    readdirSync(PAGES_DIR)
      .filter((name) => extname(name) === '.js' || extname(name) === '.css')
      .map((name) => [`/pages/${name}`, name]),
  ),
};

/**
 * No inline script or style, nothing from another origin, and fetch only to this origin.
 * Trusted Types turn any accidental HTML sink (innerHTML and the like) into an error.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': PAGE_CSP,
  // The page's URL carried a token a moment ago: it must never leave in a Referer header.
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The link is opened from a mail client: sever window.opener both ways.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  'X-Robots-Tag': 'noindex, nofollow',
};

/** Serves a page or one of its files. Returns false when the path is not a page's. */
export async function servePage(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const file = FILES[path];
  if (!file) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    // A form posted without JavaScript lands here: answer, and never echo what it carried.
    writeResult(
      res,
      problemResponse(
        'method_not_allowed',
        { title: 'This page accepts GET and HEAD only.' },
        { Allow: 'GET, HEAD', 'Cache-Control': 'no-store' },
      ),
    );
    return true;
  }
  const body = await readFile(new URL(file, PAGES_DIR));
  res.writeHead(200, {
    ...PAGE_HEADERS,
    'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
