/*
 * Parts of the configuration beside config.ts: SNS topic lists (the SES events and the inbound webhooks both take
 * one) and the replies settings. Pure parsing; config.ts collects the problems and fails once.
 */

/** Replies: SES receives mail on `domain` and hands each message to `POST /webhooks/inbound` through SNS. */
export interface InboundConfig {
  /**
   * The domain SES receives replies on: each email's Reply-To becomes `r-<opaque token>@<domain>`. Unset: Reply-To
   * stays the company's, and replies are only found by their thread headers (if they reach the webhook at all).
   */
  readonly domain: string | undefined;
  /** The only SNS topics whose messages `POST /webhooks/inbound` accepts (signatures checked as well); empty: every message is refused. */
  readonly snsTopicArns: readonly string[];
  /** Largest MIME message accepted, in bytes (SES's SNS action delivers up to 150 KB); a larger one is ignored. */
  readonly maxMessageBytes: number;
  /**
   * Messages one process works on at once; more wait their turn. A flood of replies (out-of-office answers to a
   * large send) then holds at most this many database connections, and each new connection costs PostgreSQL a
   * backend warming up its plans and triggers, so a few warm ones serve a burst sooner than many cold ones.
   */
  readonly concurrency: number;
}

type IntegerParser = (raw: string | undefined, fallback: number, name: string, problems: string[], min: number, max?: number) => number;

// A DNS name of two labels or more (what SES receives mail for); no trailing dot, no wildcards.
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function inboundConfig(env: NodeJS.ProcessEnv, problems: string[], parseInteger: IntegerParser): InboundConfig {
  const domain = env.INBOUND_DOMAIN?.trim().toLowerCase() || undefined;
  if (domain && !DOMAIN.test(domain)) problems.push(`INBOUND_DOMAIN must be a domain name such as replies.example.com (got "${env.INBOUND_DOMAIN}")`);
  return {
    domain,
    snsTopicArns: parseTopicArns(env.INBOUND_SNS_TOPIC_ARNS, problems, 'INBOUND_SNS_TOPIC_ARNS'),
    maxMessageBytes: parseInteger(env.INBOUND_MAX_MESSAGE_BYTES, 153_600, 'INBOUND_MAX_MESSAGE_BYTES', problems, 1024, 10_485_760),
    concurrency: parseInteger(env.INBOUND_CONCURRENCY, 8, 'INBOUND_CONCURRENCY', problems, 1, 64),
  };
}

// arn:<partition>:sns:<region>:<account>:<topic name>; no wildcards.
const SNS_TOPIC_ARN = /^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

/** A comma-separated list of SNS topic ARNs; malformed entries are problems (they would silently match nothing). */
export function parseTopicArns(raw: string | undefined, problems: string[], name = 'SES_SNS_TOPIC_ARNS'): string[] {
  const arns = (raw ?? '')
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  const bad = arns.filter((arn) => !SNS_TOPIC_ARN.test(arn));
  if (bad.length > 0) problems.push(`${name} must be comma-separated SNS topic ARNs (got "${bad.join('", "')}")`);
  return arns;
}
