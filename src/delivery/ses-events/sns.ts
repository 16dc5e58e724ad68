import { X509Certificate, createVerify, type KeyObject } from 'node:crypto';
import type { Clock } from '../../core/clock.js';

/**
 * Amazon SNS messages posted to an HTTPS subscription: parsing and signature verification.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
 */

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

/** An SNS message with every field its type signs, and its signature. */
export interface SnsMessage {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  Subject?: string;
  SubscribeURL?: string;
  Token?: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
}

/** A parsed message, or why it was refused: 400 for a malformed one, 403 for an unsigned one. */
export type SnsParseResult = { ok: true; message: SnsMessage } | { ok: false; status: 400 | 403; reason: string };

/** Fetches the PEM of a signing certificate. Only ever called with a URL that passed `isSnsUrl`. */
export type CertificateFetcher = (url: string) => Promise<string>;

/** The signing certificate could not be fetched: a transient failure, so SNS should retry (5xx). */
export class CertificateUnavailableError extends Error {
  override name = 'CertificateUnavailableError';
}

// The signed keys of each message type, in the (alphabetical) order of the canonical string.
const SIGNED_KEYS: Record<SnsMessageType, readonly (keyof SnsMessage)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
const MAX_CERTIFICATE_BYTES = 16_384;

/** True for an https URL on an Amazon SNS host (default port, no credentials): the only place certificates and confirmations come from. */
export function isSnsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && SNS_HOST.test(url.hostname) && url.port === '' && url.username === '' && url.password === '';
}

/**
 * True when visiting `url` confirms a subscription to `topicArn` and does nothing else: an Amazon SNS URL whose
 * Action is ConfirmSubscription for that very topic. (SNS signs what it sends, so a genuine message always
 * passes; this keeps a confirmation from ever acting on a topic other than the one that was checked.)
 */
export function isSubscribeUrlFor(url: string, topicArn: string): boolean {
  if (!isSnsUrl(url)) return false;
  const query = new URL(url).searchParams;
  return query.get('Action') === 'ConfirmSubscription' && query.getAll('TopicArn').length === 1 && query.get('TopicArn') === topicArn;
}

/** Checks the shape of a decoded SNS body; says nothing yet about its authenticity. */
export function parseSnsMessage(value: unknown): SnsParseResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, status: 400, reason: 'the body is not an SNS message' };
  const fields = value as Record<string, unknown>;
  const type = fields.Type;
  if (type !== 'Notification' && type !== 'SubscriptionConfirmation' && type !== 'UnsubscribeConfirmation') {
    return { ok: false, status: 400, reason: 'unknown SNS message Type' };
  }
  const missing = SIGNED_KEYS[type].filter((key) => key !== 'Subject' && typeof fields[key] !== 'string');
  if (missing.length > 0) return { ok: false, status: 400, reason: `missing ${missing.join(', ')}` };
  if (fields.Subject !== undefined && fields.Subject !== null && typeof fields.Subject !== 'string')
    return { ok: false, status: 400, reason: 'Subject must be a string' };
  const { Signature, SignatureVersion, SigningCertURL } = fields;
  if (typeof Signature !== 'string' || Signature === '' || typeof SigningCertURL !== 'string' || (SignatureVersion !== '1' && SignatureVersion !== '2')) {
    return { ok: false, status: 403, reason: 'unsigned' };
  }
  const text = (key: string) => (typeof fields[key] === 'string' ? { [key]: fields[key] } : {});
  return {
    ok: true,
    message: {
      Type: type,
      MessageId: fields.MessageId as string,
      TopicArn: fields.TopicArn as string,
      Message: fields.Message as string,
      Timestamp: fields.Timestamp as string,
      ...text('Subject'),
      ...text('SubscribeURL'),
      ...text('Token'),
      SignatureVersion,
      Signature,
      SigningCertURL,
    },
  };
}

/** The string SNS signs: "Key\nvalue\n" for each signed key of the type that is present, in order. */
export function canonicalString(message: SnsMessage): string {
  return SIGNED_KEYS[message.Type]
    .filter((key) => message[key] !== undefined)
    .map((key) => `${key}\n${message[key]}\n`)
    .join('');
}

/**
 * Verifies SNS signatures (version 1: SHA1withRSA, version 2: SHA256withRSA). The certificate URL must be https on
 * an Amazon SNS host, checked before anything is fetched; certificates are cached by URL (bounded) and must be
 * valid now.
 */
export class SnsVerifier {
  readonly #fetch: CertificateFetcher;
  readonly #clock: Clock;
  readonly #cacheSize: number;
  // Promises, so concurrent messages signed with a new certificate fetch it once. Map order = insertion order (LRU-ish).
  // What verifying reads of a certificate is kept read: X509Certificate builds a new key object and parses its dates on
  // every access, which showed at hundreds of messages a second.
  readonly #cache = new Map<string, Promise<SigningCertificate>>();

  constructor(options: { fetchCertificate?: CertificateFetcher; clock: Clock; cacheSize?: number }) {
    this.#fetch = options.fetchCertificate ?? fetchSnsCertificate;
    this.#clock = options.clock;
    this.#cacheSize = options.cacheSize ?? 50;
  }

  /** True when the message is signed by a currently valid certificate from Amazon SNS. Throws CertificateUnavailableError when it cannot be fetched. */
  async verify(message: SnsMessage): Promise<boolean> {
    if (!isSnsUrl(message.SigningCertURL)) return false;
    const certificate = await this.#certificate(message.SigningCertURL);
    if (!certificate) return false;
    const now = this.#clock.now().getTime();
    if (now < certificate.validFrom || now > certificate.validTo) return false;
    try {
      return createVerify(message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
        .update(canonicalString(message), 'utf8')
        .verify(certificate.publicKey, message.Signature, 'base64');
    } catch {
      return false; // a key or signature the verifier cannot even read
    }
  }

  async #certificate(url: string): Promise<SigningCertificate | undefined> {
    let pending = this.#cache.get(url);
    if (pending) {
      this.#cache.delete(url);
      this.#cache.set(url, pending); // most recently used last
    } else {
      pending = this.#fetch(url).then(
        (pem) => signingCertificate(new X509Certificate(pem)),
        (error: unknown) => {
          throw new CertificateUnavailableError(`could not fetch the SNS signing certificate: ${(error as Error).message}`);
        },
      );
      this.#cache.set(url, pending);
      while (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
    }
    try {
      return await pending;
    } catch (error) {
      this.#cache.delete(url); // failures are not remembered: the next message tries again
      if (error instanceof CertificateUnavailableError) throw error;
      return undefined; // fetched, but not a certificate
    }
  }
}

/** A signing certificate as verifying reads it: its public key and its validity (ms since the epoch). */
interface SigningCertificate {
  publicKey: KeyObject;
  validFrom: number;
  validTo: number;
}

function signingCertificate(certificate: X509Certificate): SigningCertificate {
  return { publicKey: certificate.publicKey, validFrom: certificate.validFromDate.getTime(), validTo: certificate.validToDate.getTime() };
}

/** The default fetcher: HTTPS GET, no redirects (they could leave Amazon), a timeout and a size limit. */
export async function fetchSnsCertificate(url: string): Promise<string> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const body = await response.arrayBuffer();
  if (body.byteLength > MAX_CERTIFICATE_BYTES) throw new Error('certificate too large');
  return Buffer.from(body).toString('utf8');
}

/** The default subscription confirmer: an HTTPS GET of the SubscribeURL with a timeout. */
export async function visitSubscribeUrl(url: string): Promise<void> {
  const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}
