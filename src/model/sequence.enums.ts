import { registerEnumType } from 'type-graphql';

export enum SequenceTrigger {
  LEAD_CREATED = 'LEAD_CREATED',
  SCORE_THRESHOLD = 'SCORE_THRESHOLD',
  MANUAL = 'MANUAL',
}
registerEnumType(SequenceTrigger, {
  name: 'SequenceTrigger',
  description: 'What enrolls leads in a sequence.',
  valuesConfig: {
    LEAD_CREATED: { description: 'Every new lead with an email address, in the same transaction as its creation.' },
    SCORE_THRESHOLD: { description: 'A lead whose score crosses `scoreThreshold` upward; once per lead.' },
    MANUAL: { description: 'Only `startSequence`.' },
  },
});

export enum EnrollmentStatus {
  ACTIVE = 'ACTIVE',
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
  STOPPED = 'STOPPED',
}
registerEnumType(EnrollmentStatus, {
  name: 'EnrollmentStatus',
  description: 'Where a lead is in a sequence.',
  valuesConfig: {
    ACTIVE: { description: 'Emails are sent as they fall due.' },
    PAUSED: { description: 'Nothing is sent until `resumeSequence`.' },
    COMPLETED: { description: 'The last email was sent.' },
    STOPPED: { description: 'Ended early; see `stopReason`. Its pending emails were canceled.' },
  },
});

export enum StopReason {
  MANUAL = 'MANUAL',
  UNSUBSCRIBED = 'UNSUBSCRIBED',
  BOUNCED = 'BOUNCED',
  COMPLAINED = 'COMPLAINED',
  SCORE_REACHED = 'SCORE_REACHED',
  LEAD_DELETED = 'LEAD_DELETED',
  /** The lead replied (a person, not an auto-reply) and the sequence stops on replies (`stopOnReply`). */
  REPLIED = 'REPLIED',
}
registerEnumType(StopReason, { name: 'StopReason', description: 'Why an enrollment was stopped.' });

export enum EmailStatus {
  PENDING = 'PENDING',
  SENDING = 'SENDING',
  SENT = 'SENT',
  OPENED = 'OPENED',
  CLICKED = 'CLICKED',
  REPLIED = 'REPLIED',
  BOUNCED = 'BOUNCED',
  FAILED = 'FAILED',
  UNKNOWN = 'UNKNOWN',
  CANCELED = 'CANCELED',
}
registerEnumType(EmailStatus, {
  name: 'EmailStatus',
  description: 'Lifecycle of one email of an enrollment. Engagement statuses never move backwards.',
  valuesConfig: {
    PENDING: { description: 'Scheduled; not yet handed to SES.' },
    SENDING: { description: 'Claimed by a dispatcher and being handed to SES.' },
    SENT: { description: 'Accepted by SES.' },
    OPENED: { description: 'Opened at least once.' },
    CLICKED: { description: 'A link in it was clicked.' },
    REPLIED: { description: 'The lead answered it (a person, not an auto-reply); see the timeline for the reply.' },
    BOUNCED: { description: 'Permanently bounced.' },
    FAILED: { description: 'Not sent; see `failureReason`.' },
    UNKNOWN: {
      description:
        'Handed to SES with an unknown outcome (the answer was lost, or its dispatcher stopped mid-send): it may or may not have gone out. Never re-sent by itself; see `stuckEmails` and `retryEmail`.',
    },
    CANCELED: { description: 'Will never be sent (enrollment stopped, lead deleted or unsubscribed).' },
  },
});

/** A company's deliverability, judged by the guard (src/delivery/guard/) from its own bounce and complaint rates. */
export enum DeliverabilityState {
  OK = 'OK',
  WARNING = 'WARNING',
  PAUSED = 'PAUSED',
}
registerEnumType(DeliverabilityState, {
  name: 'DeliverabilityState',
  description: "Where a company's bounce and complaint rates stand against the deployment's guard levels.",
  valuesConfig: {
    OK: { description: 'Under the warning levels, or not enough sends in a window to judge.' },
    WARNING: { description: 'A rate reached a warning level: the company still sends; clean the list before it reaches the pause level.' },
    PAUSED: { description: "A rate reached a pause level: the company's due emails wait (nothing is lost) until the operator resumes it." },
  },
});
