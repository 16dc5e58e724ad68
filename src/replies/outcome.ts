/*
 * What became of an inbound message. Every message the webhook acts on ends in one of these, answered 200 to SNS
 * (so it does not retry what can never change) and logged with the reason; only a transient failure (the database,
 * SES while forwarding) answers 5xx for SNS to retry.
 */

/** Why an inbound message changed nothing: a closed set, logged and answered (`reason`). */
export enum InboundIgnoreReason {
  /** The SNS notification is not an SES "Received" notification. */
  NOT_RECEIVED_MAIL = 'NOT_RECEIVED_MAIL',
  /** The receipt rule did not put the message in the notification (an S3 action, or no content): not supported. */
  CONTENT_NOT_INCLUDED = 'CONTENT_NOT_INCLUDED',
  /** SES's message id is longer than 192 characters (it keys the dedupe row): not one SES gave. */
  MESSAGE_ID_TOO_LONG = 'MESSAGE_ID_TOO_LONG',
  /** Larger than INBOUND_MAX_MESSAGE_BYTES. */
  TOO_LARGE = 'TOO_LARGE',
  /** Too many MIME parts or too deep a nesting to be a reply (a MIME bomb). */
  MIME_TOO_COMPLEX = 'MIME_TOO_COMPLEX',
  /** The content is not a MIME message the parser can read. */
  MIME_UNPARSABLE = 'MIME_UNPARSABLE',
  /** SES judged it spam or a virus. */
  SPAM_OR_VIRUS = 'SPAM_OR_VIRUS',
  /** Sent by this product itself (a forwarded reply or a mail from the inbound domain): answering would loop. */
  MAIL_LOOP = 'MAIL_LOOP',
  /** Neither its reply address nor its thread headers name an email the product sent. */
  NO_MATCHING_EMAIL = 'NO_MATCHING_EMAIL',
  /** Found by thread headers only, but sent by someone other than the email's recipient. */
  SENDER_MISMATCH = 'SENDER_MISMATCH',
  /**
   * Found by thread headers only (a reply or a delivery report), but SES did not vouch for its sender: neither DKIM
   * nor SPF passed, or DMARC failed. Its From could be anyone's.
   */
  SENDER_NOT_AUTHENTICATED = 'SENDER_NOT_AUTHENTICATED',
  /** The email it answers was never sent (or failed, bounced or was canceled). */
  EMAIL_NOT_SENT = 'EMAIL_NOT_SENT',
}

/** How a matched message was read (classify.ts). */
export enum ReplyKind {
  /** A person's answer. */
  HUMAN = 'HUMAN',
  /** An auto-reply or out-of-office. */
  AUTO_REPLY = 'AUTO_REPLY',
  /** A person's answer asking to be removed. */
  REMOVAL = 'REMOVAL',
  /** A delivery status notification (a bounce sent as mail). */
  DELIVERY_REPORT = 'DELIVERY_REPORT',
}

export type InboundOutcome =
  | { result: 'ignored'; reason: InboundIgnoreReason; emailId?: string }
  /** SNS delivered this message before (same SES message id): nothing happened again. */
  | { result: 'duplicate'; emailId: string }
  | { result: 'processed'; emailId: string; kind: ReplyKind; forwarded: boolean };
