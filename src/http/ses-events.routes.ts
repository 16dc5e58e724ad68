import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { readSesEvent } from '../delivery/ses-events/ses-event.js';
import { applySesEvent } from '../delivery/ses-events/ses-events.service.js';
import type { SnsMessage } from '../delivery/ses-events/sns.js';
import { snsGate, type SnsWebhookHooks } from './sns-webhook.js';

/** The SES events webhook's replaceable AWS calls (tests inject both; the inbound webhook takes the same). */
export type SesWebhookHooks = SnsWebhookHooks;

const BODY_LIMIT = 256 * 1024;

/**
 * `POST /webhooks/ses`: SES events from an SNS topic's HTTPS subscription. Only messages from a topic listed in
 * SES_SNS_TOPIC_ARNS and signed by Amazon SNS are acted on (403 otherwise, with no detail): SNS signs every
 * account's topics with the same certificate, so a valid signature alone would let anyone's topic in. With no
 * list, every message is refused. 200 means processed or deliberately ignored, so SNS stops retrying; 5xx
 * (database down, certificate unreachable) makes SNS retry later.
 */
export function registerSesWebhook(http: FastifyInstance, deps: SesWebhookDeps): void {
  if (deps.config.ses.snsTopicArns.length === 0) http.log.warn('SES webhook: SES_SNS_TOPIC_ARNS is not set, so POST /webhooks/ses refuses every message');
  const handle = sesWebhookHandler(deps);
  http.register((scope, _options, registered) => {
    // SNS posts JSON as text/plain; parsing is the handler's, so a bad body gets this route's 400.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(['text/plain', 'application/json'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post('/webhooks/ses', { bodyLimit: BODY_LIMIT }, handle);
    registered();
  });
}

export interface SesWebhookDeps {
  orm: MikroORM;
  config: Config;
  clock: Clock;
  hooks?: SesWebhookHooks;
}

/** Checks one SNS message (sns-webhook.ts) and applies it when it is a notification. */
function sesWebhookHandler(deps: SesWebhookDeps) {
  const gate = snsGate({
    topics: deps.config.ses.snsTopicArns,
    topicSetting: 'SES_SNS_TOPIC_ARNS',
    label: 'SES webhook',
    clock: deps.clock,
    hooks: deps.hooks,
  });
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const accepted = await gate(request, reply);
    return accepted ? handleNotification(deps, accepted.message, reply, accepted.log) : reply;
  };
}

async function handleNotification(deps: SesWebhookDeps, message: SnsMessage, reply: FastifyReply, log: FastifyBaseLogger) {
  const event = readSesEvent(message.Message);
  if (!event) {
    log.info('SES webhook: notification is not an SES event; ignored');
    return reply.send({ status: 'ignored' });
  }
  // With the deployment's levels: the company's deliverability is judged once the event committed.
  const outcome = await applySesEvent(deps.orm.em.fork(), { dedupeKey: message.MessageId, event, now: deps.clock.now(), guard: deps.config.deliverability });
  // Ids and types only: the event itself carries recipients' addresses.
  log.info(
    { eventType: event.eventType, sesMessageId: event.messageId, emailId: outcome.emailId, result: outcome.result, reason: outcome.reason },
    'SES event',
  );
  return reply.send({ status: outcome.result });
}
