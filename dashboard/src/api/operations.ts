// Every operation the dashboard sends, typed by GraphQL Code Generator (npm run codegen) from schema.graphql. Only
// the public API: the page is an ordinary client holding an API key.
import { graphql } from '../gql';

export const ViewerQuery = graphql(`
  query DashboardViewer {
    viewer {
      id
      name
    }
  }
`);

export const LeadsQuery = graphql(`
  query DashboardLeads($first: Int!, $after: String, $search: String) {
    leads(first: $first, after: $after, filter: { search: $search }, orderBy: SCORE_DESC) {
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
`);

export const LeadDetailQuery = graphql(`
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
`);

export const PauseMutation = graphql(`
  mutation DashboardPause($leadId: ID!, $sequenceId: ID!) {
    pauseSequence(leadId: $leadId, sequenceId: $sequenceId) {
      id
      status
    }
  }
`);

export const ResumeMutation = graphql(`
  mutation DashboardResume($leadId: ID!, $sequenceId: ID!) {
    resumeSequence(leadId: $leadId, sequenceId: $sequenceId) {
      id
      status
    }
  }
`);

export const StopMutation = graphql(`
  mutation DashboardStop($leadId: ID!, $sequenceId: ID!) {
    stopSequence(leadId: $leadId, sequenceId: $sequenceId) {
      id
      status
      stopReason
    }
  }
`);

export const ScoreChanges = graphql(`
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
`);

export const EmailChanges = graphql(`
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
`);

export const EnrollmentChanges = graphql(`
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
`);

export const SequencesQuery = graphql(`
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
`);
