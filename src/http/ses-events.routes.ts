import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { errorBody } from '../core/error-body.js';
import { readSesEvent } from '../delivery/ses-events/ses-event.js';
import { applySesEvent } from '../delivery/ses-events/ses-events.service.js';
import {
  CertificateUnavailableError,
  isSnsUrl,
  isSubscribeUrlFor,
  parseSnsMessage,
  SnsVerifier,
  visitSubscribeUrl,
  type CertificateFetcher,
  type SnsMessage,
} from '../delivery/ses-events/sns.js';

/** Replaceable network calls of the SES webhook; tests inject both (nothing here may reach AWS). */
export interface SesWebhookHooks {
  /** Fetches a signing certificate's PEM; called only for https URLs on Amazon SNS hosts. Default: HTTPS GET with a timeout. */
  fetchCertificate?: CertificateFetcher;
  /** Confirms a subscription by visiting its SubscribeURL; called only for Amazon SNS hosts. Default: HTTPS GET with a timeout. */
  confirmSubscription?: (subscribeUrl: string) => Promise<void>;
}

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

/** Reads, checks (type, topic, signature) and dispatches one SNS message. */
function sesWebhookHandler(deps: SesWebhookDeps) {
  const verifier = new SnsVerifier({ clock: deps.clock, fetchCertificate: deps.hooks?.fetchCertificate });
  const confirm = deps.hooks?.confirmSubscription ?? visitSubscribeUrl;
  const topics = new Set(deps.config.ses.snsTopicArns);

  return async (request: FastifyRequest, reply: FastifyReply) => {
    // No list, no webhook: nothing is read, fetched, confirmed or changed.
    if (topics.size === 0) return refuse(reply, 403, 'FORBIDDEN', 'topic not accepted');
    let decoded: unknown;
    try {
      decoded = JSON.parse(typeof request.body === 'string' ? request.body : '');
    } catch {
      return refuse(reply, 400, 'BAD_REQUEST', 'Malformed JSON body');
    }
    const parsed = parseSnsMessage(decoded);
    if (!parsed.ok) {
      request.log.warn({ reason: parsed.reason }, 'SES webhook: refused an SNS message');
      return parsed.status === 403
        ? refuse(reply, 403, 'FORBIDDEN', 'invalid signature')
        : refuse(reply, 400, 'BAD_REQUEST', `Not an SNS message: ${parsed.reason}`);
    }
    const message = parsed.message;
    const log = request.log.child({ snsMessageId: message.MessageId, snsType: message.Type });
    const typeHeader = request.headers['x-amz-sns-message-type'];
    if (typeHeader !== undefined && typeHeader !== message.Type) return refuse(reply, 400, 'BAD_REQUEST', 'x-amz-sns-message-type does not match Type');
    // Checked before the signature: an unexpected topic costs no certificate fetch, and its subscription is never confirmed.
    if (!topics.has(message.TopicArn)) {
      log.warn({ topicArn: message.TopicArn }, 'SES webhook: message from a topic not in SES_SNS_TOPIC_ARNS');
      return refuse(reply, 403, 'FORBIDDEN', 'topic not accepted');
    }
    try {
      if (!(await verifier.verify(message))) {
        log.warn({ signingCertUrl: message.SigningCertURL }, 'SES webhook: invalid SNS signature');
        return refuse(reply, 403, 'FORBIDDEN', 'invalid signature');
      }
    } catch (error) {
      if (!(error instanceof CertificateUnavailableError)) throw error;
      log.error({ err: error }, 'SES webhook: signing certificate unavailable');
      return refuse(reply, 503, 'SERVICE_UNAVAILABLE', 'signing certificate unavailable');
    }
    switch (message.Type) {
      case 'Notification':
        return handleNotification(deps, message, reply, log);
      case 'SubscriptionConfirmation':
        return handleSubscription(confirm, message, reply, log);
      case 'UnsubscribeConfirmation':
        log.warn({ topicArn: message.TopicArn }, 'SES webhook: the SNS subscription was removed');
        return reply.send({ status: 'ignored' });
    }
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

/** Confirms a listed, signed topic's subscription (shared with the inbound webhook). */
export async function handleSubscription(confirm: (subscribeUrl: string) => Promise<void>, message: SnsMessage, reply: FastifyReply, log: FastifyBaseLogger) {
  const url = message.SubscribeURL!;
  if (!isSnsUrl(url)) {
    log.warn('SES webhook: SubscribeURL is not an Amazon SNS URL; not confirmed');
    return refuse(reply, 400, 'BAD_REQUEST', 'SubscribeURL is not an Amazon SNS URL');
  }
  if (!isSubscribeUrlFor(url, message.TopicArn)) {
    log.warn({ topicArn: message.TopicArn }, 'SES webhook: SubscribeURL does not confirm this topic; not confirmed');
    return refuse(reply, 400, 'BAD_REQUEST', 'SubscribeURL does not confirm this topic');
  }
  try {
    await confirm(url);
  } catch (error) {
    log.error({ err: error, topicArn: message.TopicArn }, 'SES webhook: could not confirm the SNS subscription');
    return refuse(reply, 502, 'BAD_GATEWAY', 'could not confirm the subscription');
  }
  log.info({ topicArn: message.TopicArn }, 'SES webhook: SNS subscription confirmed');
  return reply.send({ status: 'confirmed' });
}

/** The app's error shape, with nothing more than `message`. */
export function refuse(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send(errorBody(message, code));
}
