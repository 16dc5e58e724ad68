import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { errorBody } from '../core/error-body.js';
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

/** Replaceable network calls of the SNS webhooks; tests inject both (nothing here may reach AWS). */
export interface SnsWebhookHooks {
  /** Fetches a signing certificate's PEM; called only for https URLs on Amazon SNS hosts. Default: HTTPS GET with a timeout. */
  fetchCertificate?: CertificateFetcher;
  /** Confirms a subscription by visiting its SubscribeURL; called only for Amazon SNS hosts. Default: HTTPS GET with a timeout. */
  confirmSubscription?: (subscribeUrl: string) => Promise<void>;
}

export interface SnsGateOptions {
  /** The topics whose messages are accepted; none: every message is refused. */
  topics: readonly string[];
  /** The setting that lists them, named in the log when a message comes from another topic. */
  topicSetting: string;
  /** How the webhook names itself in the log. */
  label: string;
  clock: Clock;
  hooks?: SnsWebhookHooks | undefined;
}

/** A signed notification from a listed topic, for the webhook's own handling. */
export interface AcceptedNotification {
  message: SnsMessage;
  log: FastifyBaseLogger;
}

/**
 * The checks every SNS webhook makes, in one place (the SES events and the inbound mail routes): JSON, the SNS
 * shape, the type header, the topic (before the signature: an unexpected topic costs no certificate fetch, and its
 * subscription is never confirmed), the signature. Subscription messages of a listed topic are answered here. A
 * notification comes back for the webhook; anything else is answered here and comes back undefined.
 */
export function snsGate(options: SnsGateOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<AcceptedNotification | undefined> {
  const { label, topicSetting } = options;
  const verifier = new SnsVerifier({ clock: options.clock, fetchCertificate: options.hooks?.fetchCertificate });
  const confirm = options.hooks?.confirmSubscription ?? visitSubscribeUrl;
  const topics = new Set(options.topics);

  return async (request, reply) => {
    // No list, no webhook: nothing is read, fetched, confirmed or changed.
    if (topics.size === 0) return void refuse(reply, 403, 'FORBIDDEN', 'topic not accepted');
    let decoded: unknown;
    try {
      decoded = JSON.parse(typeof request.body === 'string' ? request.body : '');
    } catch {
      return void refuse(reply, 400, 'BAD_REQUEST', 'Malformed JSON body');
    }
    const parsed = parseSnsMessage(decoded);
    if (!parsed.ok) {
      request.log.warn({ reason: parsed.reason }, `${label}: refused an SNS message`);
      return void (parsed.status === 403
        ? refuse(reply, 403, 'FORBIDDEN', 'invalid signature')
        : refuse(reply, 400, 'BAD_REQUEST', `Not an SNS message: ${parsed.reason}`));
    }
    const message = parsed.message;
    const log = request.log.child({ snsMessageId: message.MessageId, snsType: message.Type });
    const typeHeader = request.headers['x-amz-sns-message-type'];
    if (typeHeader !== undefined && typeHeader !== message.Type) return void refuse(reply, 400, 'BAD_REQUEST', 'x-amz-sns-message-type does not match Type');
    if (!topics.has(message.TopicArn)) {
      log.warn({ topicArn: message.TopicArn }, `${label}: message from a topic not in ${topicSetting}`);
      return void refuse(reply, 403, 'FORBIDDEN', 'topic not accepted');
    }
    try {
      if (!(await verifier.verify(message))) {
        log.warn({ signingCertUrl: message.SigningCertURL }, `${label}: invalid SNS signature`);
        return void refuse(reply, 403, 'FORBIDDEN', 'invalid signature');
      }
    } catch (error) {
      if (!(error instanceof CertificateUnavailableError)) throw error;
      log.error({ err: error }, `${label}: signing certificate unavailable`);
      return void refuse(reply, 503, 'SERVICE_UNAVAILABLE', 'signing certificate unavailable');
    }
    switch (message.Type) {
      case 'Notification':
        return { message, log };
      case 'SubscriptionConfirmation':
        return void (await confirmSubscription(confirm, message, reply, log, label));
      case 'UnsubscribeConfirmation':
        log.warn({ topicArn: message.TopicArn }, `${label}: the SNS subscription was removed`);
        return void reply.send({ status: 'ignored' });
    }
  };
}

/** Confirms a listed, signed topic's subscription. */
async function confirmSubscription(
  confirm: (subscribeUrl: string) => Promise<void>,
  message: SnsMessage,
  reply: FastifyReply,
  log: FastifyBaseLogger,
  label: string,
) {
  const url = message.SubscribeURL!;
  if (!isSnsUrl(url)) {
    log.warn(`${label}: SubscribeURL is not an Amazon SNS URL; not confirmed`);
    return refuse(reply, 400, 'BAD_REQUEST', 'SubscribeURL is not an Amazon SNS URL');
  }
  if (!isSubscribeUrlFor(url, message.TopicArn)) {
    log.warn({ topicArn: message.TopicArn }, `${label}: SubscribeURL does not confirm this topic; not confirmed`);
    return refuse(reply, 400, 'BAD_REQUEST', 'SubscribeURL does not confirm this topic');
  }
  try {
    await confirm(url);
  } catch (error) {
    log.error({ err: error, topicArn: message.TopicArn }, `${label}: could not confirm the SNS subscription`);
    return refuse(reply, 502, 'BAD_GATEWAY', 'could not confirm the subscription');
  }
  log.info({ topicArn: message.TopicArn }, `${label}: SNS subscription confirmed`);
  return reply.send({ status: 'confirmed' });
}

/** The app's error shape, with nothing more than `message`. */
export function refuse(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send(errorBody(message, code));
}
