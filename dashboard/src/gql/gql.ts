/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query DashboardSequenceAnalytics($sequenceId: ID!, $from: DateTime!, $to: DateTime!, $interval: AnalyticsInterval!) {\n    sequenceAnalytics(sequenceId: $sequenceId, from: $from, to: $to) {\n      from\n      to\n      counts {\n        ...DashboardCounts\n      }\n      rates {\n        ...DashboardRates\n      }\n      steps {\n        emailNumber\n        counts {\n          ...DashboardCounts\n        }\n        rates {\n          ...DashboardRates\n        }\n      }\n    }\n    sequenceTimeSeries(sequenceId: $sequenceId, from: $from, to: $to, interval: $interval) {\n      start\n      counts {\n        sent\n        delivered\n        uniqueHumanOpens\n        uniqueMachineOpens\n        uniqueHumanClicks\n        uniqueMachineClicks\n        bouncedPermanent\n      }\n    }\n  }\n\n  fragment DashboardCounts on EmailCounts {\n    enrolled\n    sent\n    delivered\n    bouncedPermanent\n    bouncedTransient\n    complained\n    failed\n    unknown\n    canceled\n    unsubscribed\n    uniqueHumanOpens\n    uniqueMachineOpens\n    uniqueHumanClicks\n    uniqueMachineClicks\n    replied\n  }\n\n  fragment DashboardRates on EmailRates {\n    deliveryRate\n    openRate\n    machineOpenRate\n    clickRate\n    clickToOpenRate\n    bounceRate\n    complaintRate\n    unsubscribeRate\n    replyRate\n  }\n": typeof types.DashboardSequenceAnalyticsDocument,
    "\n  query DashboardDeliverability {\n    deliverability {\n      state\n      reason\n      changedAt\n      pausedAt\n      windows {\n        ...DashboardWindow\n      }\n      levels {\n        warningBounceRate\n        warningComplaintRate\n        pauseBounceRate\n        pauseComplaintRate\n        sesReviewBounceRate\n        sesReviewComplaintRate\n        sesPauseBounceRate\n        sesPauseComplaintRate\n        minimumSends\n      }\n    }\n  }\n\n  fragment DashboardWindow on DeliverabilityWindow {\n    days\n    sent\n    bounced\n    complained\n    bounceRate\n    complaintRate\n    enoughVolume\n  }\n": typeof types.DashboardDeliverabilityDocument,
    "\n  subscription DashboardDeliverabilityChanges {\n    deliverabilityChanged {\n      state\n      previousState\n      reason\n      at\n      windows {\n        ...DashboardWindow\n      }\n    }\n  }\n": typeof types.DashboardDeliverabilityChangesDocument,
    "\n  query DashboardViewer {\n    viewer {\n      id\n      name\n    }\n  }\n": typeof types.DashboardViewerDocument,
    "\n  query DashboardLeads($first: Int!, $after: String, $search: String) {\n    leads(first: $first, after: $after, filter: { search: $search }, orderBy: SCORE_DESC) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          email\n          firstName\n          lastName\n          companyName\n          score\n          createdAt\n        }\n      }\n    }\n  }\n": typeof types.DashboardLeadsDocument,
    "\n  query DashboardLead($id: ID!) {\n    lead(id: $id) {\n      id\n      email\n      firstName\n      lastName\n      score\n      activities(first: 50) {\n        totalCount\n        edges {\n          node {\n            id\n            type\n            reason\n            scoreDelta\n            scoreAfter\n            occurredAt\n          }\n        }\n      }\n    }\n    leadSequenceStatus(leadId: $id) {\n      enrollments {\n        id\n        status\n        stopReason\n        startedAt\n        pausedAt\n        sequence {\n          id\n          name\n        }\n        emails {\n          id\n          emailNumber\n          status\n          scheduledSendDate\n        }\n      }\n    }\n  }\n": typeof types.DashboardLeadDocument,
    "\n  mutation DashboardPause($leadId: ID!, $sequenceId: ID!) {\n    pauseSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n": typeof types.DashboardPauseDocument,
    "\n  mutation DashboardResume($leadId: ID!, $sequenceId: ID!) {\n    resumeSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n": typeof types.DashboardResumeDocument,
    "\n  mutation DashboardStop($leadId: ID!, $sequenceId: ID!) {\n    stopSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n      stopReason\n    }\n  }\n": typeof types.DashboardStopDocument,
    "\n  subscription DashboardScoreChanges {\n    leadScoreChanged {\n      lead {\n        id\n        email\n      }\n      previousScore\n      score\n      delta\n      reason\n      at\n    }\n  }\n": typeof types.DashboardScoreChangesDocument,
    "\n  subscription DashboardEmailChanges {\n    emailStatusChanged {\n      id\n      status\n      emailNumber\n      lead {\n        id\n        email\n      }\n      enrollment {\n        id\n        sequence {\n          id\n          name\n        }\n      }\n    }\n  }\n": typeof types.DashboardEmailChangesDocument,
    "\n  subscription DashboardEnrollmentChanges {\n    enrollmentChanged {\n      id\n      status\n      stopReason\n      lead {\n        id\n        email\n      }\n      sequence {\n        id\n        name\n      }\n    }\n  }\n": typeof types.DashboardEnrollmentChangesDocument,
    "\n  query DashboardSequences {\n    sequences(first: 100) {\n      edges {\n        node {\n          id\n          name\n          active\n          totalEmails\n        }\n      }\n    }\n  }\n": typeof types.DashboardSequencesDocument,
};
const documents: Documents = {
    "\n  query DashboardSequenceAnalytics($sequenceId: ID!, $from: DateTime!, $to: DateTime!, $interval: AnalyticsInterval!) {\n    sequenceAnalytics(sequenceId: $sequenceId, from: $from, to: $to) {\n      from\n      to\n      counts {\n        ...DashboardCounts\n      }\n      rates {\n        ...DashboardRates\n      }\n      steps {\n        emailNumber\n        counts {\n          ...DashboardCounts\n        }\n        rates {\n          ...DashboardRates\n        }\n      }\n    }\n    sequenceTimeSeries(sequenceId: $sequenceId, from: $from, to: $to, interval: $interval) {\n      start\n      counts {\n        sent\n        delivered\n        uniqueHumanOpens\n        uniqueMachineOpens\n        uniqueHumanClicks\n        uniqueMachineClicks\n        bouncedPermanent\n      }\n    }\n  }\n\n  fragment DashboardCounts on EmailCounts {\n    enrolled\n    sent\n    delivered\n    bouncedPermanent\n    bouncedTransient\n    complained\n    failed\n    unknown\n    canceled\n    unsubscribed\n    uniqueHumanOpens\n    uniqueMachineOpens\n    uniqueHumanClicks\n    uniqueMachineClicks\n    replied\n  }\n\n  fragment DashboardRates on EmailRates {\n    deliveryRate\n    openRate\n    machineOpenRate\n    clickRate\n    clickToOpenRate\n    bounceRate\n    complaintRate\n    unsubscribeRate\n    replyRate\n  }\n": types.DashboardSequenceAnalyticsDocument,
    "\n  query DashboardDeliverability {\n    deliverability {\n      state\n      reason\n      changedAt\n      pausedAt\n      windows {\n        ...DashboardWindow\n      }\n      levels {\n        warningBounceRate\n        warningComplaintRate\n        pauseBounceRate\n        pauseComplaintRate\n        sesReviewBounceRate\n        sesReviewComplaintRate\n        sesPauseBounceRate\n        sesPauseComplaintRate\n        minimumSends\n      }\n    }\n  }\n\n  fragment DashboardWindow on DeliverabilityWindow {\n    days\n    sent\n    bounced\n    complained\n    bounceRate\n    complaintRate\n    enoughVolume\n  }\n": types.DashboardDeliverabilityDocument,
    "\n  subscription DashboardDeliverabilityChanges {\n    deliverabilityChanged {\n      state\n      previousState\n      reason\n      at\n      windows {\n        ...DashboardWindow\n      }\n    }\n  }\n": types.DashboardDeliverabilityChangesDocument,
    "\n  query DashboardViewer {\n    viewer {\n      id\n      name\n    }\n  }\n": types.DashboardViewerDocument,
    "\n  query DashboardLeads($first: Int!, $after: String, $search: String) {\n    leads(first: $first, after: $after, filter: { search: $search }, orderBy: SCORE_DESC) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          email\n          firstName\n          lastName\n          companyName\n          score\n          createdAt\n        }\n      }\n    }\n  }\n": types.DashboardLeadsDocument,
    "\n  query DashboardLead($id: ID!) {\n    lead(id: $id) {\n      id\n      email\n      firstName\n      lastName\n      score\n      activities(first: 50) {\n        totalCount\n        edges {\n          node {\n            id\n            type\n            reason\n            scoreDelta\n            scoreAfter\n            occurredAt\n          }\n        }\n      }\n    }\n    leadSequenceStatus(leadId: $id) {\n      enrollments {\n        id\n        status\n        stopReason\n        startedAt\n        pausedAt\n        sequence {\n          id\n          name\n        }\n        emails {\n          id\n          emailNumber\n          status\n          scheduledSendDate\n        }\n      }\n    }\n  }\n": types.DashboardLeadDocument,
    "\n  mutation DashboardPause($leadId: ID!, $sequenceId: ID!) {\n    pauseSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n": types.DashboardPauseDocument,
    "\n  mutation DashboardResume($leadId: ID!, $sequenceId: ID!) {\n    resumeSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n": types.DashboardResumeDocument,
    "\n  mutation DashboardStop($leadId: ID!, $sequenceId: ID!) {\n    stopSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n      stopReason\n    }\n  }\n": types.DashboardStopDocument,
    "\n  subscription DashboardScoreChanges {\n    leadScoreChanged {\n      lead {\n        id\n        email\n      }\n      previousScore\n      score\n      delta\n      reason\n      at\n    }\n  }\n": types.DashboardScoreChangesDocument,
    "\n  subscription DashboardEmailChanges {\n    emailStatusChanged {\n      id\n      status\n      emailNumber\n      lead {\n        id\n        email\n      }\n      enrollment {\n        id\n        sequence {\n          id\n          name\n        }\n      }\n    }\n  }\n": types.DashboardEmailChangesDocument,
    "\n  subscription DashboardEnrollmentChanges {\n    enrollmentChanged {\n      id\n      status\n      stopReason\n      lead {\n        id\n        email\n      }\n      sequence {\n        id\n        name\n      }\n    }\n  }\n": types.DashboardEnrollmentChangesDocument,
    "\n  query DashboardSequences {\n    sequences(first: 100) {\n      edges {\n        node {\n          id\n          name\n          active\n          totalEmails\n        }\n      }\n    }\n  }\n": types.DashboardSequencesDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardSequenceAnalytics($sequenceId: ID!, $from: DateTime!, $to: DateTime!, $interval: AnalyticsInterval!) {\n    sequenceAnalytics(sequenceId: $sequenceId, from: $from, to: $to) {\n      from\n      to\n      counts {\n        ...DashboardCounts\n      }\n      rates {\n        ...DashboardRates\n      }\n      steps {\n        emailNumber\n        counts {\n          ...DashboardCounts\n        }\n        rates {\n          ...DashboardRates\n        }\n      }\n    }\n    sequenceTimeSeries(sequenceId: $sequenceId, from: $from, to: $to, interval: $interval) {\n      start\n      counts {\n        sent\n        delivered\n        uniqueHumanOpens\n        uniqueMachineOpens\n        uniqueHumanClicks\n        uniqueMachineClicks\n        bouncedPermanent\n      }\n    }\n  }\n\n  fragment DashboardCounts on EmailCounts {\n    enrolled\n    sent\n    delivered\n    bouncedPermanent\n    bouncedTransient\n    complained\n    failed\n    unknown\n    canceled\n    unsubscribed\n    uniqueHumanOpens\n    uniqueMachineOpens\n    uniqueHumanClicks\n    uniqueMachineClicks\n    replied\n  }\n\n  fragment DashboardRates on EmailRates {\n    deliveryRate\n    openRate\n    machineOpenRate\n    clickRate\n    clickToOpenRate\n    bounceRate\n    complaintRate\n    unsubscribeRate\n    replyRate\n  }\n"): typeof import('./graphql').DashboardSequenceAnalyticsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardDeliverability {\n    deliverability {\n      state\n      reason\n      changedAt\n      pausedAt\n      windows {\n        ...DashboardWindow\n      }\n      levels {\n        warningBounceRate\n        warningComplaintRate\n        pauseBounceRate\n        pauseComplaintRate\n        sesReviewBounceRate\n        sesReviewComplaintRate\n        sesPauseBounceRate\n        sesPauseComplaintRate\n        minimumSends\n      }\n    }\n  }\n\n  fragment DashboardWindow on DeliverabilityWindow {\n    days\n    sent\n    bounced\n    complained\n    bounceRate\n    complaintRate\n    enoughVolume\n  }\n"): typeof import('./graphql').DashboardDeliverabilityDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardDeliverabilityChanges {\n    deliverabilityChanged {\n      state\n      previousState\n      reason\n      at\n      windows {\n        ...DashboardWindow\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardDeliverabilityChangesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardViewer {\n    viewer {\n      id\n      name\n    }\n  }\n"): typeof import('./graphql').DashboardViewerDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardLeads($first: Int!, $after: String, $search: String) {\n    leads(first: $first, after: $after, filter: { search: $search }, orderBy: SCORE_DESC) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          id\n          email\n          firstName\n          lastName\n          companyName\n          score\n          createdAt\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardLeadsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardLead($id: ID!) {\n    lead(id: $id) {\n      id\n      email\n      firstName\n      lastName\n      score\n      activities(first: 50) {\n        totalCount\n        edges {\n          node {\n            id\n            type\n            reason\n            scoreDelta\n            scoreAfter\n            occurredAt\n          }\n        }\n      }\n    }\n    leadSequenceStatus(leadId: $id) {\n      enrollments {\n        id\n        status\n        stopReason\n        startedAt\n        pausedAt\n        sequence {\n          id\n          name\n        }\n        emails {\n          id\n          emailNumber\n          status\n          scheduledSendDate\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardLeadDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DashboardPause($leadId: ID!, $sequenceId: ID!) {\n    pauseSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').DashboardPauseDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DashboardResume($leadId: ID!, $sequenceId: ID!) {\n    resumeSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n    }\n  }\n"): typeof import('./graphql').DashboardResumeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DashboardStop($leadId: ID!, $sequenceId: ID!) {\n    stopSequence(leadId: $leadId, sequenceId: $sequenceId) {\n      id\n      status\n      stopReason\n    }\n  }\n"): typeof import('./graphql').DashboardStopDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardScoreChanges {\n    leadScoreChanged {\n      lead {\n        id\n        email\n      }\n      previousScore\n      score\n      delta\n      reason\n      at\n    }\n  }\n"): typeof import('./graphql').DashboardScoreChangesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardEmailChanges {\n    emailStatusChanged {\n      id\n      status\n      emailNumber\n      lead {\n        id\n        email\n      }\n      enrollment {\n        id\n        sequence {\n          id\n          name\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardEmailChangesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardEnrollmentChanges {\n    enrollmentChanged {\n      id\n      status\n      stopReason\n      lead {\n        id\n        email\n      }\n      sequence {\n        id\n        name\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardEnrollmentChangesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardSequences {\n    sequences(first: 100) {\n      edges {\n        node {\n          id\n          name\n          active\n          totalEmails\n        }\n      }\n    }\n  }\n"): typeof import('./graphql').DashboardSequencesDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
