// Operations of the analytics and deliverability API (helpers A and B of this round, to the fixed contract).
import { graphql } from '../gql';

export const SequenceAnalyticsQuery = graphql(`
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
    sequenceTimeSeries(sequenceId: $sequenceId, from: $from, to: $to, interval: $interval) {
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
  }
`);

export const DeliverabilityQuery = graphql(`
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
  }
`);

export const DeliverabilityChanges = graphql(`
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
`);
