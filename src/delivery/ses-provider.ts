import { GetAccountCommand, SendEmailCommand, SESv2Client, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { SES_CONNECTION_TIMEOUT_MS, SES_REQUEST_TIMEOUT_MS, SES_SEND_TIMEOUT_MS, type Config } from '../core/config.js';
import { SendError, type AccountStatus, type EmailProvider, type OutgoingEmail, type SendFailure } from './email-provider.js';

const THROTTLING = new Set(['TooManyRequestsException', 'LimitExceededException', 'ThrottlingException', 'Throttling', 'SlowDown']);
const ACCOUNT = new Set(['AccountSuspendedException', 'SendingPausedException']);
// Errors raised before a request left this machine: SES cannot have accepted the email.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** How long a call may take: a connection, an answer, and the whole call (what the claim lease must cover). */
export interface SesTimeouts {
  connectionMs: number;
  requestMs: number;
  totalMs: number;
}

const SES_TIMEOUTS: SesTimeouts = { connectionMs: SES_CONNECTION_TIMEOUT_MS, requestMs: SES_REQUEST_TIMEOUT_MS, totalMs: SES_SEND_TIMEOUT_MS };

/**
 * Amazon SES v2. The SDK's own retries are off: a retried SendEmail whose first answer was lost sends twice. Every
 * call ends within `totalMs`: the SDK's requestTimeout alone only logs a warning, and a call that outlived the claim
 * lease could be swept, retried by an operator and delivered twice.
 */
/** What the SES client reads of the config (plain data: it also crosses to the thread of ses-thread.ts). */
export interface SesClientSettings {
  ses: Pick<Config['ses'], 'region' | 'configurationSet'>;
  delivery: Pick<Config['delivery'], 'concurrency'>;
}

export function createSesProvider(config: SesClientSettings, endpoint: string | undefined, timeouts: SesTimeouts = SES_TIMEOUTS): EmailProvider {
  const local = endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(endpoint);
  const client = new SESv2Client({
    region: config.ses.region,
    ...(endpoint ? { endpoint } : {}),
    // The emulator ignores credentials; real SES uses the standard AWS chain (env, profile, role).
    ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: timeouts.connectionMs,
      requestTimeout: timeouts.requestMs,
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: config.delivery.concurrency * 2 },
    },
  });

  return {
    async send(email: OutgoingEmail) {
      try {
        const result = await client.send(new SendEmailCommand(sendEmailInput(email, config.ses.configurationSet)), {
          abortSignal: AbortSignal.timeout(timeouts.totalMs),
        });
        if (!result.MessageId) throw new SendError({ kind: 'unknown', message: 'SES answered without a message id' });
        return { messageId: result.MessageId };
      } catch (error) {
        if (error instanceof SendError) throw error;
        throw new SendError(classifySesError(error));
      }
    },

    async sendRaw(message: Uint8Array, to: string) {
      try {
        const result = await client.send(new SendEmailCommand({ Destination: { ToAddresses: [to] }, Content: { Raw: { Data: message } } }), {
          abortSignal: AbortSignal.timeout(timeouts.totalMs),
        });
        if (!result.MessageId) throw new SendError({ kind: 'unknown', message: 'SES answered without a message id' });
        return { messageId: result.MessageId };
      } catch (error) {
        if (error instanceof SendError) throw error;
        throw new SendError(classifySesError(error));
      }
    },

    async account(): Promise<AccountStatus> {
      const account = await client.send(new GetAccountCommand({}));
      const enforcement = account.EnforcementStatus;
      const sendingEnabled = account.SendingEnabled !== false && enforcement !== 'SHUTDOWN';
      return {
        maxSendRate: account.SendQuota?.MaxSendRate ?? 1,
        sendingEnabled,
        reason: sendingEnabled ? null : `SES account cannot send (sendingEnabled=${String(account.SendingEnabled)}, enforcement=${enforcement ?? 'unknown'})`,
      };
    },

    dispose: () => client.destroy(),
  };
}

/** The SESv2 SendEmail request for one email: simple content in UTF-8, our headers, correlation tags. */
export function sendEmailInput(email: OutgoingEmail, configurationSet?: string | null): SendEmailCommandInput {
  return {
    FromEmailAddress: email.from,
    Destination: { ToAddresses: [email.to] },
    ...(email.replyTo ? { ReplyToAddresses: [email.replyTo] } : {}),
    Content: {
      Simple: {
        Subject: { Data: email.subject, Charset: 'UTF-8' },
        Body: { Html: { Data: email.html, Charset: 'UTF-8' }, Text: { Data: email.text, Charset: 'UTF-8' } },
        Headers: email.headers.map((h) => ({ Name: h.name, Value: h.value })),
      },
    },
    ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
    EmailTags: Object.entries(email.tags).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** Maps whatever the SDK threw to what delivery must do about it. */
export function classifySesError(error: unknown): SendFailure {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string }; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const message = `${name}: ${e.message ?? String(error)}`.slice(0, 1000);
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || status === 429) return { kind: 'throttled', message };
  if (ACCOUNT.has(name)) return { kind: 'account', message };
  if (status !== undefined) {
    // SES answered: a server error means it did not take the message; anything else is its final word.
    return status >= 500 ? { kind: 'transient', message } : { kind: 'permanent', message };
  }
  const code = e.code ?? e.cause?.code;
  // Smithy's connectionTimeout: no connection, so nothing was sent (a black-holed endpoint is an outage, not a mystery).
  if ((code && NOT_SENT_CODES.has(code)) || /without establishing a connection|did not establish a connection/i.test(e.message ?? '')) {
    return { kind: 'transient', message };
  }
  return { kind: 'unknown', message };
}
