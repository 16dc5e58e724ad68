import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../core/error-body.js';

export interface DashboardOptions {
  /** The built page (`npm run build` writes dist/dashboard: index.html and hashed assets/). */
  readonly dir: string;
  /**
   * Development only: the demo company's key, written into the page for requests from this machine so that it
   * opens signed in. Unset everywhere else: the page then asks for a key.
   */
  readonly devApiKey?: string;
}

/**
 * The page may load only its own files and talk only to its own origin (`connect-src 'self'` covers the GraphQL
 * WebSocket on the same host and port). No inline script or style, no framing, no plugins, and DOM sinks take no
 * strings (Trusted Types): lead names, reasons and other tenant-supplied text can only ever be text.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * `GET /dashboard/`: the single-page dashboard. Hashed assets are immutable (a new build has new names); the page
 * itself is `no-cache`, so a new build is picked up on the next load (`no-store` when it carries the demo key).
 */
export async function registerDashboardRoutes(http: FastifyInstance, options: DashboardOptions): Promise<void> {
  const index = (request: FastifyRequest, reply: FastifyReply) => serveIndex(request, reply, options);
  http.get('/dashboard', index);
  http.get('/dashboard/', index);
  await http.register(fastifyStatic, {
    root: join(options.dir, 'assets'),
    prefix: '/dashboard/assets/',
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    // Built with a compressed copy of each file beside it (dashboard/vite.config.ts): served when the client accepts it.
    preCompressed: true,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => {
      void reply.headers(SECURITY_HEADERS);
    },
  });
}

async function serveIndex(request: FastifyRequest, reply: FastifyReply, options: DashboardOptions): Promise<void> {
  let html: string;
  try {
    // Read per request (it is half a kilobyte): a rebuild while the server runs is served at once.
    html = await readFile(join(options.dir, 'index.html'), 'utf8');
  } catch {
    await reply
      .status(503)
      .header('cache-control', 'no-store')
      .send(errorBody('The dashboard is not built: run `npm run build` (npm start does it)', 'SERVICE_UNAVAILABLE'));
    return;
  }
  const key = options.devApiKey !== undefined && isFromThisMachine(request) ? options.devApiKey : undefined;
  if (key !== undefined) html = html.replace('<head>', `<head>\n    <meta name="lead-nurture-dev-key" content="${escapeAttribute(key)}" />`);
  await reply
    .headers({
      ...SECURITY_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      // A page carrying a key is never stored by any cache; the plain page is revalidated on every load.
      'cache-control': key !== undefined ? 'no-store' : 'no-cache',
      vary: 'Host',
    })
    .send(html);
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

/**
 * A request from a browser on this machine, addressed to this machine by name: the connection comes from loopback,
 * the Host header names loopback (a DNS-rebinding page, whose Host is its own name, gets no key) and no proxy
 * forwarded it (a tunnel or reverse proxy on this machine also connects from loopback, for someone else).
 */
export function isFromThisMachine(request: Pick<FastifyRequest, 'headers' | 'socket'>): boolean {
  const { headers } = request;
  if (headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined || headers['x-real-ip'] !== undefined) return false;
  return LOOPBACK_ADDRESS.test(request.socket.remoteAddress ?? '') && LOOPBACK_HOST.test(headers.host ?? '');
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
