import { execFileSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The certificate URL the app is given the test certificate for (its injected fetcher). */
export const SNS_CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem';
export const SNS_TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';

/**
 * Signs SES events as Amazon SNS does (SignatureVersion 2, SHA256withRSA over the canonical "Key\nvalue\n" string),
 * with a key and self-signed certificate openssl makes for the run (as test/ses-events.test.ts does). Give the app
 * `sesWebhook: { fetchCertificate: signer.fetchCertificate, confirmSubscription }` and SES_SNS_TOPIC_ARNS = SNS_TOPIC.
 * The certificate is valid from now for a day: the app's clock must be near the real time when events arrive.
 */
export function snsSigner() {
  const dir = mkdtempSync(join(tmpdir(), 'sns-signer-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=sns.amazonaws.com'],
    { cwd: dir, stdio: 'pipe' },
  );
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return {
    fetchCertificate: (url: string) => (url === SNS_CERT_URL ? Promise.resolve(cert) : Promise.reject(new Error('connect ETIMEDOUT'))),
    /** A signed SNS Notification carrying `event` (SES event-publishing JSON). */
    notification(event: object): Record<string, string> {
      const fields: Record<string, string> = {
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: SNS_TOPIC,
        Subject: 'Amazon SES Email Event Notification',
        Message: JSON.stringify(event),
        Timestamp: new Date().toISOString(),
      };
      const canonical = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'].map((k) => `${k}\n${fields[k]}\n`).join('');
      const signature = createSign('RSA-SHA256').update(canonical).sign(key, 'base64');
      return { ...fields, SignatureVersion: '2', Signature: signature, SigningCertURL: SNS_CERT_URL };
    },
  };
}

/** Posts a signed notification to the app's SES webhook; its status and body. */
export async function postSns(baseUrl: string, notification: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/webhooks/ses`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
    body: JSON.stringify(notification),
  });
  return { status: response.status, body: await response.json() };
}

/** SES event-publishing JSON for one sent email. */
export const sesEvents = {
  mail: (messageId: string | null, address: string, emailId?: string) => ({
    timestamp: new Date().toISOString(),
    source: 'team@example.com',
    ...(messageId ? { messageId } : {}),
    destination: [address],
    tags: { 'ses:configuration-set': ['lead-nurture'], ...(emailId ? { email_id: [emailId] } : {}) },
  }),
  bounce(messageId: string, address: string, bounceType: 'Permanent' | 'Transient') {
    return {
      eventType: 'Bounce',
      bounce: {
        bounceType,
        bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
        bouncedRecipients: [{ emailAddress: address, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
        timestamp: new Date().toISOString(),
        feedbackId: randomUUID(),
      },
      mail: this.mail(messageId, address),
    };
  },
  complaint(messageId: string, address: string) {
    return {
      eventType: 'Complaint',
      complaint: {
        complainedRecipients: [{ emailAddress: address }],
        complaintFeedbackType: 'abuse',
        timestamp: new Date().toISOString(),
        feedbackId: randomUUID(),
      },
      mail: this.mail(messageId, address),
    };
  },
  delivery(messageId: string | null, address: string, at: Date, emailId?: string) {
    return {
      eventType: 'Delivery',
      delivery: { timestamp: at.toISOString(), recipients: [address], smtpResponse: '250 2.0.0 OK', processingTimeMillis: 512 },
      mail: this.mail(messageId, address, emailId),
    };
  },
};
