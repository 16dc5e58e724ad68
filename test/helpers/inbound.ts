import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import MimeNode from 'nodemailer/lib/mime-node/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';

/*
 * SES inbound mail as it reaches POST /webhooks/inbound: a real MIME message (built by nodemailer's MailComposer,
 * or its MimeNode for a delivery report) inside an SES "Received" notification, inside an SNS notification signed
 * exactly as SNS signs, with a key and self-signed certificate made by openssl for the run (the SES events tests do
 * the same); the app trusts that certificate because the injected fetcher returns it for CERT_URL.
 */

export const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-inbound-test.pem';
export const INBOUND_TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-inbound';
export const INBOUND_DOMAIN = 'replies.example.com';

export interface SnsSigner {
  /** The PEM the app's fetcher hands out for CERT_URL. */
  certificate: string;
  /** A key SNS never used: its signatures must be refused. */
  otherKey: string;
  sign(fields: Record<string, string>, key?: string): Record<string, string>;
  dispose(): void;
}

export function snsSigner(): SnsSigner {
  const dir = mkdtempSync(join(tmpdir(), 'sns-inbound-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=sns.amazonaws.com');
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.pem');
  const [key, certificate, otherKey] = ['key.pem', 'cert.pem', 'other.pem'].map((file) => readFileSync(join(dir, file), 'utf8')) as [string, string, string];
  return {
    certificate,
    otherKey,
    sign(fields, withKey = key) {
      const keys =
        fields.Type === 'Notification'
          ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
          : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
      const canonical = keys
        .filter((k) => fields[k] !== undefined)
        .map((k) => `${k}\n${fields[k]}\n`)
        .join('');
      const signature = createSign('RSA-SHA256').update(canonical).sign(withKey, 'base64');
      return { ...fields, SignatureVersion: '2', Signature: signature, SigningCertURL: CERT_URL };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Builds a MIME message with MailComposer. */
export async function compose(mail: Mail.Options): Promise<Buffer> {
  const node = new MailComposer({ disableFileAccess: true, disableUrlAccess: true, ...mail }).compile();
  return build(node);
}

function build(node: MimeNode): Promise<Buffer> {
  return new Promise((resolve, reject) => node.build((error, message) => (error ? reject(error) : resolve(message))));
}

/** A delivery status notification (RFC 3464) about `recipient`, returning the headers of the message it bounces. */
export async function deliveryReport(input: { to: string; recipient: string; status: string; returnedMessageId: string; action?: string }): Promise<Buffer> {
  const root = new MimeNode('multipart/report; report-type=delivery-status');
  root.setHeader({ From: 'Mail Delivery System <mailer-daemon@mx.example.net>', To: input.to, Subject: 'Undelivered Mail Returned to Sender' });
  root.createChild('text/plain').setContent(`This is the mail system. Your message could not be delivered to <${input.recipient}>.`);
  root
    .createChild('message/delivery-status')
    .setContent(
      `Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; ${input.recipient}\r\nAction: ${input.action ?? 'failed'}\r\nStatus: ${input.status}\r\nDiagnostic-Code: smtp; 550 ${input.status} user unknown\r\n`,
    );
  root
    .createChild('text/rfc822-headers')
    .setContent(`From: team@example.com\r\nTo: ${input.recipient}\r\nSubject: Welcome\r\nMessage-ID: <${input.returnedMessageId}>\r\n`);
  return build(root);
}

export interface InboundOptions {
  /** The envelope recipients SES received it for. */
  recipients: string[];
  encoding?: 'BASE64' | 'UTF8';
  sesMessageId?: string;
  /** Replaces the receipt's action (an S3 action, say). */
  action?: Record<string, unknown>;
  spam?: 'PASS' | 'FAIL';
  /** SES's sender authentication verdicts (all PASS unless given), as the receipt carries them. */
  auth?: { spf?: AuthVerdict; dkim?: AuthVerdict; dmarc?: AuthVerdict };
}

export type AuthVerdict = 'PASS' | 'FAIL' | 'GRAY' | 'PROCESSING_FAILED';

/** The SES "Received" notification of `raw`, as the receipt rule's SNS action publishes it. */
export function sesReceived(raw: Buffer, options: InboundOptions): string {
  const encoding = options.encoding ?? 'BASE64';
  return JSON.stringify({
    notificationType: 'Received',
    mail: {
      timestamp: new Date().toISOString(),
      source: 'someone@example.net',
      messageId: options.sesMessageId ?? randomUUID().replace(/-/g, ''),
      destination: options.recipients,
      headersTruncated: false,
    },
    receipt: {
      timestamp: new Date().toISOString(),
      recipients: options.recipients,
      spamVerdict: { status: options.spam ?? 'PASS' },
      virusVerdict: { status: 'PASS' },
      spfVerdict: { status: options.auth?.spf ?? 'PASS' },
      dkimVerdict: { status: options.auth?.dkim ?? 'PASS' },
      dmarcVerdict: { status: options.auth?.dmarc ?? 'PASS' },
      action: options.action ?? { type: 'SNS', topicArn: INBOUND_TOPIC, encoding },
    },
    ...(options.action ? {} : { content: encoding === 'BASE64' ? raw.toString('base64') : raw.toString('utf8') }),
  });
}

/** An SNS Notification carrying `message`, signed by `signer`. */
export function snsNotification(signer: SnsSigner, message: string, options: { topic?: string; key?: string } = {}): Record<string, string> {
  return signer.sign(
    {
      Type: 'Notification',
      MessageId: randomUUID(),
      TopicArn: options.topic ?? INBOUND_TOPIC,
      Subject: 'Amazon SES Email Receipt Notification',
      Message: message,
      Timestamp: new Date().toISOString(),
    },
    options.key,
  );
}

/** POSTs a body to the inbound webhook as SNS does (text/plain JSON). */
export async function postInbound(baseUrl: string, body: unknown, type = 'Notification'): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/webhooks/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': type },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
