import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { Semaphore } from '../core/semaphore.js';
import type { EmailProvider } from '../delivery/email-provider.js';
import type { SnsMessage } from '../delivery/ses-events/sns.js';
import { readInboundNotification } from '../replies/inbound-notification.js';
import { processInbound } from '../replies/replies.service.js';
import { refuse, snsGate, type SnsWebhookHooks } from './sns-webhook.js';

/**
 * Messages that may wait for each of INBOUND_CONCURRENCY's permits (256 for the default 8): at the ceiling measured
 * on a 2-core machine (330-410 replies/s), under a second of waiting.
 */
export const WAITING_PER_PERMIT = 32;

export interface InboundWebhookDeps {
  orm: MikroORM;
  config: Config;
  clock: Clock;
  /** Forwards replies to companies (SES `SendEmail`, raw content). */
  provider: EmailProvider;
  /** The same replaceable AWS calls as the SES events webhook (tests inject both). */
  hooks?: SnsWebhookHooks;
}

/**
 * `POST /webhooks/inbound`: mail SES received on INBOUND_DOMAIN, from a receipt rule's SNS action. Checked exactly
 * as `POST /webhooks/ses` checks (delivery/ses-events/sns.ts): only topics in INBOUND_SNS_TOPIC_ARNS (none listed:
 * every message is refused, 403), only messages Amazon SNS signed. 200 means processed or deliberately ignored (the
 * body says which and why), so SNS stops retrying what can never change; 5xx (database, SES while forwarding,
 * certificate unreachable, too many messages already waiting) makes SNS retry later.
 */
export function registerInboundWebhook(http: FastifyInstance, deps: InboundWebhookDeps): void {
  const { inbound } = deps.config;
  if (inbound.domain && inbound.snsTopicArns.length === 0)
    http.log.warn('inbound webhook: INBOUND_SNS_TOPIC_ARNS is not set, so POST /webhooks/inbound refuses every message and replies are not seen');
  const handle = inboundHandler(deps);
  // The MIME message arrives inside JSON (base64, or UTF-8 with escapes): room for the largest accepted one, twice over.
  const bodyLimit = Math.ceil((inbound.maxMessageBytes * 4) / 3) * 2 + 64 * 1024;
  http.register((scope, _options, registered) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['text/plain', 'application/json'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post('/webhooks/inbound', { bodyLimit }, handle);
    scope.addHook('onClose', (_instance, done) => {
      deps.provider.dispose();
      done();
    });
    registered();
  });
}

function inboundHandler(deps: InboundWebhookDeps) {
  const gate = snsGate({
    topics: deps.config.inbound.snsTopicArns,
    topicSetting: 'INBOUND_SNS_TOPIC_ARNS',
    label: 'inbound webhook',
    clock: deps.clock,
    hooks: deps.hooks,
  });
  const permits = new Semaphore(deps.config.inbound.concurrency);
  const maxWaiting = deps.config.inbound.concurrency * WAITING_PER_PERMIT;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const accepted = await gate(request, reply);
    if (!accepted) return reply;
    // A queue with a bound: each waiting message holds its body, and one waiting longer than SNS's own timeout
    // would be sent again and queue twice. SNS retries a 503 later, when the flood may have passed.
    if (permits.waiting >= maxWaiting) {
      accepted.log.warn({ waiting: permits.waiting }, 'inbound webhook: too many messages waiting; answered 503 for SNS to retry');
      return refuse(reply, 503, 'SERVICE_UNAVAILABLE', 'too many messages waiting: retry later');
    }
    const release = await permits.acquire();
    try {
      return await handleMail(deps, accepted.message, reply, accepted.log);
    } finally {
      release();
    }
  };
}

async function handleMail(deps: InboundWebhookDeps, message: SnsMessage, reply: FastifyReply, log: FastifyBaseLogger) {
  const read = readInboundNotification(message.Message, deps.config.inbound.maxMessageBytes);
  if (!read.ok) {
    log.info({ reason: read.reason }, 'inbound mail ignored');
    return reply.send({ status: 'ignored', reason: read.reason });
  }
  const outcome = await processInbound({ orm: deps.orm, config: deps.config, provider: deps.provider, now: deps.clock.now() }, read.mail);
  // Ids, kinds and reasons only: the message itself is the lead's words and addresses.
  log.info({ sesMessageId: read.mail.sesMessageId, ...outcome }, outcome.result === 'ignored' ? 'inbound mail ignored' : 'inbound mail');
  if (outcome.result === 'ignored') return reply.send({ status: outcome.result, reason: outcome.reason });
  return reply.send(outcome.result === 'processed' ? { status: outcome.result, kind: outcome.kind, forwarded: outcome.forwarded } : { status: outcome.result });
}
