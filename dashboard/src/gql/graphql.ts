/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Kind of event on a lead timeline. */
export type ActivityType =
  | 'EMAIL_AUTO_REPLIED'
  | 'EMAIL_BOUNCED'
  | 'EMAIL_CLICKED'
  | 'EMAIL_COMPLAINED'
  | 'EMAIL_DELIVERED'
  | 'EMAIL_FAILED'
  | 'EMAIL_OPENED'
  | 'EMAIL_REPLIED'
  | 'EMAIL_SENT'
  | 'ENROLLED'
  | 'ENROLLMENT_COMPLETED'
  | 'ENROLLMENT_FAILED'
  | 'ENROLLMENT_PAUSED'
  | 'ENROLLMENT_RESUMED'
  | 'ENROLLMENT_SKIPPED'
  | 'ENROLLMENT_STOPPED'
  | 'LEAD_CREATED'
  | 'LEAD_DELETED'
  | 'LEAD_UPDATED'
  | 'REPLY_FORWARDED'
  | 'RESUBSCRIBED'
  | 'SCORE_CHANGED'
  | 'UNSUBSCRIBED';

/** The length of one point of a time series, on the calendar of the company's time zone. */
export type AnalyticsInterval =
  /** Local days, midnight to midnight: 23 or 25 hours long on daylight-saving change days. */
  | 'DAY'
  /** Local hours (a day with a daylight-saving change has 23 or 25 of them). */
  | 'HOUR'
  /** ISO weeks, Monday 00:00 to Monday 00:00 local time. */
  | 'WEEK';

/** Where a company's bounce and complaint rates stand against the deployment's guard levels. */
export type DeliverabilityState =
  /** Under the warning levels, or not enough sends in a window to judge. */
  | 'OK'
  /** A rate reached a pause level: the company's due emails wait (nothing is lost) until the operator resumes it. */
  | 'PAUSED'
  /** A rate reached a warning level: the company still sends; clean the list before it reaches the pause level. */
  | 'WARNING';

/** Lifecycle of one email of an enrollment. Engagement statuses never move backwards. */
export type EmailStatus =
  /** Permanently bounced. */
  | 'BOUNCED'
  /** Will never be sent (enrollment stopped, lead deleted or unsubscribed). */
  | 'CANCELED'
  /** A link in it was clicked. */
  | 'CLICKED'
  /** Not sent; see `failureReason`. */
  | 'FAILED'
  /** Opened at least once. */
  | 'OPENED'
  /** Scheduled; not yet handed to SES. */
  | 'PENDING'
  /** The lead answered it (a person, not an auto-reply); see the timeline for the reply. */
  | 'REPLIED'
  /** Claimed by a dispatcher and being handed to SES. */
  | 'SENDING'
  /** Accepted by SES. */
  | 'SENT'
  /** Handed to SES with an unknown outcome (the answer was lost, or its dispatcher stopped mid-send): it may or may not have gone out. Never re-sent by itself; see `stuckEmails` and `retryEmail`. */
  | 'UNKNOWN';

/** Where a lead is in a sequence. */
export type EnrollmentStatus =
  /** Emails are sent as they fall due. */
  | 'ACTIVE'
  /** The last email was sent. */
  | 'COMPLETED'
  /** Nothing is sent until `resumeSequence`. */
  | 'PAUSED'
  /** Ended early; see `stopReason`. Its pending emails were canceled. */
  | 'STOPPED';

/** Why an enrollment was stopped. */
export type StopReason =
  | 'BOUNCED'
  | 'COMPLAINED'
  | 'LEAD_DELETED'
  | 'MANUAL'
  | 'REPLIED'
  | 'SCORE_REACHED'
  | 'UNSUBSCRIBED';

export type DashboardSequenceAnalyticsQueryVariables = Exact<{
  sequenceId: string | number;
  from: string;
  to: string;
  interval: AnalyticsInterval;
}>;


export type DashboardSequenceAnalyticsQuery = { sequenceAnalytics: { from: string, to: string, counts: { enrolled: number, sent: number, delivered: number, bouncedPermanent: number, bouncedTransient: number, complained: number, failed: number, unknown: number, canceled: number, unsubscribed: number, uniqueHumanOpens: number, uniqueMachineOpens: number, uniqueHumanClicks: number, uniqueMachineClicks: number, replied: number }, rates: { deliveryRate: number | null, openRate: number | null, machineOpenRate: number | null, clickRate: number | null, clickToOpenRate: number | null, bounceRate: number | null, complaintRate: number | null, unsubscribeRate: number | null, replyRate: number | null }, steps: Array<{ emailNumber: number, counts: { enrolled: number, sent: number, delivered: number, bouncedPermanent: number, bouncedTransient: number, complained: number, failed: number, unknown: number, canceled: number, unsubscribed: number, uniqueHumanOpens: number, uniqueMachineOpens: number, uniqueHumanClicks: number, uniqueMachineClicks: number, replied: number }, rates: { deliveryRate: number | null, openRate: number | null, machineOpenRate: number | null, clickRate: number | null, clickToOpenRate: number | null, bounceRate: number | null, complaintRate: number | null, unsubscribeRate: number | null, replyRate: number | null } }> }, sequenceTimeSeries: Array<{ start: string, counts: { sent: number, delivered: number, uniqueHumanOpens: number, uniqueMachineOpens: number, uniqueHumanClicks: number, uniqueMachineClicks: number, bouncedPermanent: number } }> };

export type DashboardCountsFragment = { enrolled: number, sent: number, delivered: number, bouncedPermanent: number, bouncedTransient: number, complained: number, failed: number, unknown: number, canceled: number, unsubscribed: number, uniqueHumanOpens: number, uniqueMachineOpens: number, uniqueHumanClicks: number, uniqueMachineClicks: number, replied: number };

export type DashboardRatesFragment = { deliveryRate: number | null, openRate: number | null, machineOpenRate: number | null, clickRate: number | null, clickToOpenRate: number | null, bounceRate: number | null, complaintRate: number | null, unsubscribeRate: number | null, replyRate: number | null };

export type DashboardDeliverabilityQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardDeliverabilityQuery = { deliverability: { state: DeliverabilityState, reason: string | null, changedAt: string | null, pausedAt: string | null, windows: Array<{ days: number, sent: number, bounced: number, complained: number, bounceRate: number | null, complaintRate: number | null, enoughVolume: boolean }>, levels: { warningBounceRate: number, warningComplaintRate: number, pauseBounceRate: number, pauseComplaintRate: number, sesReviewBounceRate: number, sesReviewComplaintRate: number, sesPauseBounceRate: number, sesPauseComplaintRate: number, minimumSends: number } } };

export type DashboardWindowFragment = { days: number, sent: number, bounced: number, complained: number, bounceRate: number | null, complaintRate: number | null, enoughVolume: boolean };

export type DashboardDeliverabilityChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type DashboardDeliverabilityChangesSubscription = { deliverabilityChanged: { state: DeliverabilityState, previousState: DeliverabilityState, reason: string | null, at: string, windows: Array<{ days: number, sent: number, bounced: number, complained: number, bounceRate: number | null, complaintRate: number | null, enoughVolume: boolean }> } };

export type DashboardViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardViewerQuery = { viewer: { id: string, name: string } };

export type DashboardLeadsQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
  search?: string | null | undefined;
}>;


export type DashboardLeadsQuery = { leads: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, email: string | null, firstName: string | null, lastName: string | null, companyName: string | null, score: number, createdAt: string } }> } };

export type DashboardLeadQueryVariables = Exact<{
  id: string | number;
}>;


export type DashboardLeadQuery = { lead: { id: string, email: string | null, firstName: string | null, lastName: string | null, score: number, activities: { totalCount: number, edges: Array<{ node: { id: string, type: ActivityType, reason: string, scoreDelta: number | null, scoreAfter: number | null, occurredAt: string } }> } }, leadSequenceStatus: { enrollments: Array<{ id: string, status: EnrollmentStatus, stopReason: StopReason | null, startedAt: string, pausedAt: string | null, sequence: { id: string, name: string }, emails: Array<{ id: string, emailNumber: number, status: EmailStatus, scheduledSendDate: string }> }> } };

export type DashboardPauseMutationVariables = Exact<{
  leadId: string | number;
  sequenceId: string | number;
}>;


export type DashboardPauseMutation = { pauseSequence: { id: string, status: EnrollmentStatus } };

export type DashboardResumeMutationVariables = Exact<{
  leadId: string | number;
  sequenceId: string | number;
}>;


export type DashboardResumeMutation = { resumeSequence: { id: string, status: EnrollmentStatus } };

export type DashboardStopMutationVariables = Exact<{
  leadId: string | number;
  sequenceId: string | number;
}>;


export type DashboardStopMutation = { stopSequence: { id: string, status: EnrollmentStatus, stopReason: StopReason | null } };

export type DashboardScoreChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type DashboardScoreChangesSubscription = { leadScoreChanged: { previousScore: number, score: number, delta: number, reason: string, at: string, lead: { id: string, email: string | null } } };

export type DashboardEmailChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type DashboardEmailChangesSubscription = { emailStatusChanged: { id: string, status: EmailStatus, emailNumber: number, lead: { id: string, email: string | null }, enrollment: { id: string, sequence: { id: string, name: string } } } };

export type DashboardEnrollmentChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type DashboardEnrollmentChangesSubscription = { enrollmentChanged: { id: string, status: EnrollmentStatus, stopReason: StopReason | null, lead: { id: string, email: string | null }, sequence: { id: string, name: string } } };

export type DashboardSequencesQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardSequencesQuery = { sequences: { edges: Array<{ node: { id: string, name: string, active: boolean, totalEmails: number } }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const DashboardCountsFragmentDoc = new TypedDocumentString(`
    fragment DashboardCounts on EmailCounts {
  enrolled
  sent
  delivered
  bouncedPermanent
  bouncedTransient
  complained
  failed
  unknown
  canceled
  unsubscribed
  uniqueHumanOpens
  uniqueMachineOpens
  uniqueHumanClicks
  uniqueMachineClicks
  replied
}
    `, {"fragmentName":"DashboardCounts"}) as unknown as TypedDocumentString<DashboardCountsFragment, unknown>;
export const DashboardRatesFragmentDoc = new TypedDocumentString(`
    fragment DashboardRates on EmailRates {
  deliveryRate
  openRate
  machineOpenRate
  clickRate
  clickToOpenRate
  bounceRate
  complaintRate
  unsubscribeRate
  replyRate
}
    `, {"fragmentName":"DashboardRates"}) as unknown as TypedDocumentString<DashboardRatesFragment, unknown>;
export const DashboardWindowFragmentDoc = new TypedDocumentString(`
    fragment DashboardWindow on DeliverabilityWindow {
  days
  sent
  bounced
  complained
  bounceRate
  complaintRate
  enoughVolume
}
    `, {"fragmentName":"DashboardWindow"}) as unknown as TypedDocumentString<DashboardWindowFragment, unknown>;
export const DashboardSequenceAnalyticsDocument = new TypedDocumentString(`
    query DashboardSequenceAnalytics($sequenceId: ID!, $from: DateTime!, $to: DateTime!, $interval: AnalyticsInterval!) {
  sequenceAnalytics(sequenceId: $sequenceId, from: $from, to: $to) {
    from
    to
    counts {
      ...DashboardCounts
    }
    rates {
      ...DashboardRates
    }
    steps {
      emailNumber
      counts {
        ...DashboardCounts
      }
      rates {
        ...DashboardRates
      }
    }
  }
  sequenceTimeSeries(
    sequenceId: $sequenceId
    from: $from
    to: $to
    interval: $interval
  ) {
    start
    counts {
      sent
      delivered
      uniqueHumanOpens
      uniqueMachineOpens
      uniqueHumanClicks
      uniqueMachineClicks
      bouncedPermanent
    }
  }
}
    fragment DashboardCounts on EmailCounts {
  enrolled
  sent
  delivered
  bouncedPermanent
  bouncedTransient
  complained
  failed
  unknown
  canceled
  unsubscribed
  uniqueHumanOpens
  uniqueMachineOpens
  uniqueHumanClicks
  uniqueMachineClicks
  replied
}
fragment DashboardRates on EmailRates {
  deliveryRate
  openRate
  machineOpenRate
  clickRate
  clickToOpenRate
  bounceRate
  complaintRate
  unsubscribeRate
  replyRate
}`) as unknown as TypedDocumentString<DashboardSequenceAnalyticsQuery, DashboardSequenceAnalyticsQueryVariables>;
export const DashboardDeliverabilityDocument = new TypedDocumentString(`
    query DashboardDeliverability {
  deliverability {
    state
    reason
    changedAt
    pausedAt
    windows {
      ...DashboardWindow
    }
    levels {
      warningBounceRate
      warningComplaintRate
      pauseBounceRate
      pauseComplaintRate
      sesReviewBounceRate
      sesReviewComplaintRate
      sesPauseBounceRate
      sesPauseComplaintRate
      minimumSends
    }
  }
}
    fragment DashboardWindow on DeliverabilityWindow {
  days
  sent
  bounced
  complained
  bounceRate
  complaintRate
  enoughVolume
}`) as unknown as TypedDocumentString<DashboardDeliverabilityQuery, DashboardDeliverabilityQueryVariables>;
export const DashboardDeliverabilityChangesDocument = new TypedDocumentString(`
    subscription DashboardDeliverabilityChanges {
  deliverabilityChanged {
    state
    previousState
    reason
    at
    windows {
      ...DashboardWindow
    }
  }
}
    fragment DashboardWindow on DeliverabilityWindow {
  days
  sent
  bounced
  complained
  bounceRate
  complaintRate
  enoughVolume
}`) as unknown as TypedDocumentString<DashboardDeliverabilityChangesSubscription, DashboardDeliverabilityChangesSubscriptionVariables>;
export const DashboardViewerDocument = new TypedDocumentString(`
    query DashboardViewer {
  viewer {
    id
    name
  }
}
    `) as unknown as TypedDocumentString<DashboardViewerQuery, DashboardViewerQueryVariables>;
export const DashboardLeadsDocument = new TypedDocumentString(`
    query DashboardLeads($first: Int!, $after: String, $search: String) {
  leads(
    first: $first
    after: $after
    filter: {search: $search}
    orderBy: SCORE_DESC
  ) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        email
        firstName
        lastName
        companyName
        score
        createdAt
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardLeadsQuery, DashboardLeadsQueryVariables>;
export const DashboardLeadDocument = new TypedDocumentString(`
    query DashboardLead($id: ID!) {
  lead(id: $id) {
    id
    email
    firstName
    lastName
    score
    activities(first: 50) {
      totalCount
      edges {
        node {
          id
          type
          reason
          scoreDelta
          scoreAfter
          occurredAt
        }
      }
    }
  }
  leadSequenceStatus(leadId: $id) {
    enrollments {
      id
      status
      stopReason
      startedAt
      pausedAt
      sequence {
        id
        name
      }
      emails {
        id
        emailNumber
        status
        scheduledSendDate
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardLeadQuery, DashboardLeadQueryVariables>;
export const DashboardPauseDocument = new TypedDocumentString(`
    mutation DashboardPause($leadId: ID!, $sequenceId: ID!) {
  pauseSequence(leadId: $leadId, sequenceId: $sequenceId) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<DashboardPauseMutation, DashboardPauseMutationVariables>;
export const DashboardResumeDocument = new TypedDocumentString(`
    mutation DashboardResume($leadId: ID!, $sequenceId: ID!) {
  resumeSequence(leadId: $leadId, sequenceId: $sequenceId) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<DashboardResumeMutation, DashboardResumeMutationVariables>;
export const DashboardStopDocument = new TypedDocumentString(`
    mutation DashboardStop($leadId: ID!, $sequenceId: ID!) {
  stopSequence(leadId: $leadId, sequenceId: $sequenceId) {
    id
    status
    stopReason
  }
}
    `) as unknown as TypedDocumentString<DashboardStopMutation, DashboardStopMutationVariables>;
export const DashboardScoreChangesDocument = new TypedDocumentString(`
    subscription DashboardScoreChanges {
  leadScoreChanged {
    lead {
      id
      email
    }
    previousScore
    score
    delta
    reason
    at
  }
}
    `) as unknown as TypedDocumentString<DashboardScoreChangesSubscription, DashboardScoreChangesSubscriptionVariables>;
export const DashboardEmailChangesDocument = new TypedDocumentString(`
    subscription DashboardEmailChanges {
  emailStatusChanged {
    id
    status
    emailNumber
    lead {
      id
      email
    }
    enrollment {
      id
      sequence {
        id
        name
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardEmailChangesSubscription, DashboardEmailChangesSubscriptionVariables>;
export const DashboardEnrollmentChangesDocument = new TypedDocumentString(`
    subscription DashboardEnrollmentChanges {
  enrollmentChanged {
    id
    status
    stopReason
    lead {
      id
      email
    }
    sequence {
      id
      name
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardEnrollmentChangesSubscription, DashboardEnrollmentChangesSubscriptionVariables>;
export const DashboardSequencesDocument = new TypedDocumentString(`
    query DashboardSequences {
  sequences(first: 100) {
    edges {
      node {
        id
        name
        active
        totalEmails
      }
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardSequencesQuery, DashboardSequencesQueryVariables>;