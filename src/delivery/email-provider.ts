/** What delivery needs from an email service. SES implements it; the interface keeps SES details in one file. */
export interface OutgoingEmail {
  from: string;
  to: string;
  replyTo: string | null;
  subject: string;
  html: string;
  text: string;
  headers: { name: string; value: string }[];
  /** Correlation tags (company, lead, email id) echoed back on SES events. */
  tags: Record<string, string>;
}

export interface AccountStatus {
  /** Emails per second allowed for the whole account. */
  maxSendRate: number;
  sendingEnabled: boolean;
  /** Why sending is not possible, when it is not. */
  reason: string | null;
}

/** How a failed send must be handled. */
export type SendFailure =
  | { kind: 'throttled'; message: string }
  /** SES certainly did not accept it (unreachable, or it answered with a server error): safe to retry. */
  | { kind: 'transient'; message: string }
  /** SES refused it for good (rejected message, unverified domain, bad address). */
  | { kind: 'permanent'; message: string }
  /** The account cannot send (paused, suspended): nothing is sent until it can. */
  | { kind: 'account'; message: string }
  /** The request may or may not have reached SES: it must not be sent again blindly. */
  | { kind: 'unknown'; message: string };

export class SendError extends Error {
  constructor(readonly failure: SendFailure) {
    super(failure.message);
    this.name = 'SendError';
  }
}

export interface EmailProvider {
  /** Hands one email over; resolves with the provider's message id or rejects with a SendError. */
  send(email: OutgoingEmail): Promise<{ messageId: string }>;
  /** Hands over a complete MIME message (a forwarded reply) to `to`; rejects with a SendError like `send`. */
  sendRaw(message: Uint8Array, to: string): Promise<{ messageId: string }>;
  account(): Promise<AccountStatus>;
  dispose(): void;
}
