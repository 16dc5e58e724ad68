import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { tokenVerifier } from '../tracking/tokens.js';
import type { EngagementRecorder } from '../tracking/tracking.service.js';
import { unsubscribeByEmail } from '../tracking/unsubscribe.js';

// The smallest transparent GIF.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_CACHE = { 'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0', pragma: 'no-cache', expires: '0' };

/**
 * The public routes recipients' mail clients reach: the open pixel, click redirects and unsubscribe. Tokens are
 * encrypted and authenticated (src/tracking/tokens.ts); a forged or altered one changes nothing (the pixel is
 * served anyway, a click gets 404).
 */
export function registerTrackingRoutes(http: FastifyInstance, deps: { orm: MikroORM; config: Config; clock: Clock; recorder: EngagementRecorder }): void {
  const verify = tokenVerifier(deps.config.trackingSecret.reveal());
  const userAgent = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) ?? null;

  http.route<{ Params: { file: string } }>({
    method: ['GET', 'HEAD'],
    url: '/t/o/:file',
    handler: async (request, reply) => {
      const token = verify(request.params.file.replace(/\.gif$/, ''));
      if (token?.kind === 'open') {
        // Answered once durable (spooled): the image waits for an fsync shared with other requests, never for the
        // database; an open the recorder cannot keep is logged there, and the image is served all the same.
        await deps.recorder.capture({
          kind: 'OPEN',
          emailId: token.emailId,
          method: request.method,
          userAgent: userAgent(request.headers['user-agent']),
          at: deps.clock.now(),
        });
      }
      return reply.headers({ ...NO_CACHE, 'content-type': 'image/gif' }).send(PIXEL);
    },
  });

  http.route<{ Params: { token: string } }>({
    method: ['GET', 'HEAD'],
    url: '/t/c/:token',
    handler: async (request, reply) => {
      const token = verify(request.params.token);
      if (token?.kind !== 'click' || token.link === undefined) return notFound(reply);
      let url: string | undefined;
      try {
        url = await deps.recorder.linkOf(token.emailId, token.link);
      } catch (error) {
        // The database is away and this process has not seen the email's links: nowhere known to send the reader.
        request.log.warn({ err: error }, 'could not look up a tracked link');
        return unavailable(reply);
      }
      if (!url) return notFound(reply);
      await deps.recorder.capture({
        kind: 'CLICK',
        emailId: token.emailId,
        linkIndex: token.link,
        method: request.method,
        userAgent: userAgent(request.headers['user-agent']),
        at: deps.clock.now(),
      });
      return reply.headers(NO_CACHE).redirect(url, 302);
    },
  });

  // RFC 8058: GET only shows a page (mail scanners follow links); the POST from the button or from the mail
  // client's one-click List-Unsubscribe-Post is what unsubscribes.
  http.get<{ Params: { token: string } }>('/u/:token', async (request, reply) => {
    const token = verify(request.params.token);
    if (token?.kind !== 'unsubscribe') return notFound(reply);
    return page(reply, 'Unsubscribe', `<p>Stop receiving these emails?</p><form method="post"><button type="submit">Unsubscribe</button></form>`);
  });

  http.register((scope, _options, registered) => {
    // One-click posts are form-encoded (`List-Unsubscribe=One-Click`); the content carries nothing we need.
    scope.addContentTypeParser(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'], { bodyLimit: 4096 }, (_request, _body, done) =>
      done(null, {}),
    );
    scope.post<{ Params: { token: string } }>('/u/:token', async (request, reply) => {
      const token = verify(request.params.token);
      if (token?.kind !== 'unsubscribe') return notFound(reply);
      const known = await unsubscribeByEmail(
        deps.orm.em.fork(),
        token.emailId,
        deps.clock.now(),
        request.headers['list-unsubscribe'] ? 'one-click' : 'unsubscribe page',
      );
      if (!known) return notFound(reply);
      return page(reply, 'Unsubscribed', `<p>You are unsubscribed. You will not receive these emails again.</p>`);
    });
    registered();
  });
}

function notFound(reply: FastifyReply) {
  return reply.status(404).headers(NO_CACHE).type('text/html; charset=utf-8').send(html('Not found', '<p>This link is not valid.</p>'));
}

function unavailable(reply: FastifyReply) {
  return reply
    .status(503)
    .headers({ ...NO_CACHE, 'retry-after': '30' })
    .type('text/html; charset=utf-8')
    .send(html('Try again shortly', '<p>This link is briefly unavailable. Please try again in a moment.</p>'));
}

function page(reply: FastifyReply, title: string, body: string) {
  return reply.headers(NO_CACHE).type('text/html; charset=utf-8').send(html(title, body));
}

function html(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${title}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#2563eb;color:#fff;cursor:pointer}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
}
