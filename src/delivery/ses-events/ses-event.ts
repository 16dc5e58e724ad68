import { isUuid } from '../../core/ids.js';
import { EMAIL_ID_HEADER } from '../message.js';

/**
 * SES event JSON (the SNS `Message`) read into what it means for us. Event publishing (configuration sets) says
 * `eventType`; identity notifications say `notificationType`; both carry `mail` and a type-specific object.
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
 */

/** What an SES event asks of us. */
export type SesAction =
  | { kind: 'hard-bounce'; recipients: string[]; detail: string }
  | { kind: 'soft-bounce'; detail: string }
  | { kind: 'complaint'; recipients: string[]; detail: string }
  | { kind: 'delivery' }
  | { kind: 'failed'; reason: string }
  | { kind: 'ignored' };

/** One SES event: its type, how to find our email, when it happened, and the action. */
export interface SesEvent {
  eventType: string;
  /** SES message id (`mail.messageId`), our `provider_message_id`. */
  messageId: string | undefined;
  /** Our email id, from the `email_id` tag or the X-LN-Email-Id header. */
  emailId: string | undefined;
  occurredAt: Date | undefined;
  action: SesAction;
}

const EVENT_TYPES = ['Bounce', 'Complaint', 'Delivery', 'Send', 'Reject', 'Open', 'Click', 'Rendering Failure', 'DeliveryDelay', 'Subscription'] as const;
type SesEventType = (typeof EVENT_TYPES)[number];

type Json = Record<string, unknown>;

/** Reads an SNS `Message` as an SES event; undefined when it is not one (e.g. a topic's test message). */
export function readSesEvent(message: string): SesEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  const eventType = str(parsed.eventType) ?? str(parsed.notificationType);
  if (!eventType) return undefined;
  const mail = obj(parsed.mail);
  return {
    eventType,
    messageId: str(mail.messageId),
    emailId: emailIdOf(mail),
    ...actionOf(eventType, parsed),
  };
}

function actionOf(eventType: string, event: Json): { action: SesAction; occurredAt: Date | undefined } {
  if (!isEventType(eventType)) return { action: { kind: 'ignored' }, occurredAt: undefined };
  switch (eventType) {
    case 'Bounce': {
      const bounce = obj(event.bounce);
      const recipients = arr(bounce.bouncedRecipients).map(obj);
      const diagnostic = recipients.map((r) => str(r.diagnosticCode)).find(Boolean);
      const subType = str(bounce.bounceSubType);
      const detail = `${str(bounce.bounceType) ?? 'Unknown'} bounce${subType ? ` (${subType})` : ''}${diagnostic ? `: ${diagnostic}` : ''}`;
      const occurredAt = date(bounce.timestamp);
      // Only a permanent bounce says the address is bad; transient and undetermined ones may pass.
      return bounce.bounceType === 'Permanent'
        ? { action: { kind: 'hard-bounce', recipients: addresses(recipients), detail }, occurredAt }
        : { action: { kind: 'soft-bounce', detail }, occurredAt };
    }
    case 'Complaint': {
      const complaint = obj(event.complaint);
      const type = str(complaint.complaintFeedbackType) ?? str(complaint.complaintSubType);
      return {
        action: { kind: 'complaint', recipients: addresses(arr(complaint.complainedRecipients).map(obj)), detail: type ? `Complaint (${type})` : 'Complaint' },
        occurredAt: date(complaint.timestamp),
      };
    }
    case 'Delivery':
      return { action: { kind: 'delivery' }, occurredAt: date(obj(event.delivery).timestamp) };
    case 'Reject':
      return {
        action: { kind: 'failed', reason: `Rejected by SES: ${str(obj(event.reject).reason) ?? 'no reason given'}` },
        occurredAt: date(obj(event.mail).timestamp),
      };
    case 'Rendering Failure':
      return {
        action: { kind: 'failed', reason: `SES rendering failure: ${str(obj(event.failure).errorMessage) ?? 'no reason given'}` },
        occurredAt: date(obj(event.mail).timestamp),
      };
    // Our own pixel and links track opens and clicks (with machine detection); the rest changes nothing here.
    case 'Send':
    case 'Open':
    case 'Click':
    case 'DeliveryDelay':
    case 'Subscription':
      return { action: { kind: 'ignored' }, occurredAt: undefined };
    default:
      return unreachable(eventType);
  }
}

/** The email id our sends carry: the `email_id` tag (event publishing), else the header (notifications with headers). */
function emailIdOf(mail: Json): string | undefined {
  const tag = arr(obj(mail.tags).email_id).map(str).find(Boolean);
  const header = arr(mail.headers)
    .map(obj)
    .find((h) => str(h.name)?.toLowerCase() === EMAIL_ID_HEADER.toLowerCase());
  const id = tag ?? str(header?.value);
  return id && isUuid(id) ? id : undefined;
}

/** Bare addresses of SES recipients (`"Name" <a@b>` → `a@b`), unique. */
function addresses(recipients: Json[]): string[] {
  const all = recipients
    .map((r) => str(r.emailAddress))
    .filter((a): a is string => Boolean(a))
    .map((a) => (/<([^<>]+)>\s*$/.exec(a)?.[1] ?? a).trim().toLowerCase());
  return [...new Set(all)];
}

function isEventType(value: string): value is SesEventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

function unreachable(value: never): never {
  throw new Error(`unhandled SES event type ${String(value)}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function obj(value: unknown): Json {
  return isObject(value) ? value : {};
}

function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function date(value: unknown): Date | undefined {
  const parsed = typeof value === 'string' ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
}
