import { useState } from 'preact/hooks';
import { LeadDetailQuery, PauseMutation, ResumeMutation, StopMutation } from '../api/operations';
import type { DashboardLeadQuery } from '../gql/graphql';
import { label, messageOf, signed, time } from '../format';
import { useLive, useLoad, useThrottled, type Services } from '../hooks';

type Enrollment = DashboardLeadQuery['leadSequenceStatus']['enrollments'][number];

/** One lead: its score explained by its timeline, and its enrollments with pause, resume and stop. */
export function LeadDetail({ api, live, leadId }: Services & { leadId: string }) {
  const detail = useLoad(() => api.request(LeadDetailQuery, { id: leadId }), leadId);
  const refresh = useThrottled(detail.reload, 500);
  useLive(live, (event) => (event.kind === 'resync' || (event.kind !== 'deliverability' && event.leadId === leadId)) && refresh());

  if (detail.error && !detail.data) {
    return (
      <section aria-labelledby="lead-title">
        <h2 id="lead-title">Lead</h2>
        <p role="alert" class="error">
          Could not load this lead: {messageOf(detail.error)}
        </p>
        <a href="#leads">Back to leads</a>
      </section>
    );
  }
  if (!detail.data) return <p aria-busy="true">Loading lead…</p>;
  const { lead, leadSequenceStatus } = detail.data;
  const name = [lead.firstName, lead.lastName].filter(Boolean).join(' ');
  return (
    <section aria-labelledby="lead-title">
      <p>
        <a href="#leads">← All leads</a>
      </p>
      <h2 id="lead-title">
        {lead.email ?? '(no email)'} {name && <span class="muted">({name})</span>}
      </h2>
      <p class="score-line">
        Score <strong data-testid="lead-detail-score">{lead.score}</strong> of 100
      </p>
      <h3>Enrollments</h3>
      {leadSequenceStatus.enrollments.length === 0 ? (
        <p>Not enrolled in any sequence.</p>
      ) : (
        <ul class="enrollments">
          {leadSequenceStatus.enrollments.map((enrollment) => (
            <EnrollmentCard key={enrollment.id} api={api} leadId={lead.id} enrollment={enrollment} onChanged={detail.reload} />
          ))}
        </ul>
      )}
      <h3>Timeline</h3>
      <table class="data" data-testid="timeline">
        <caption>
          Why the score is {lead.score}: {lead.activities.edges.length} most recent of {lead.activities.totalCount} events, newest first
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col">Reason</th>
            <th scope="col">Score change</th>
            <th scope="col">Score after</th>
          </tr>
        </thead>
        <tbody>
          {lead.activities.edges.map(({ node }) => (
            <tr key={node.id}>
              <td>{time(node.occurredAt)}</td>
              <td>{label(node.type)}</td>
              <td>{node.reason}</td>
              <td class="num">{node.scoreDelta == null ? '' : signed(node.scoreDelta)}</td>
              <td class="num">{node.scoreAfter ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function EnrollmentCard({ api, leadId, enrollment, onChanged }: { api: Services['api']; leadId: string; enrollment: Enrollment; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [confirmStop, setConfirmStop] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const variables = { leadId, sequenceId: enrollment.sequence.id };
  const act = (run: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    run()
      .then(onChanged, (e: unknown) => setError(messageOf(e)))
      .finally(() => {
        setBusy(false);
        setConfirmStop(false);
      });
  };
  const sent = enrollment.emails.filter((email) => email.status !== 'PENDING' && email.status !== 'CANCELED').length;
  const title = `“${enrollment.sequence.name}”`;
  return (
    <li class="card" data-testid="enrollment" data-sequence-id={enrollment.sequence.id}>
      <h4>{title}</h4>
      <p>
        Status <strong data-testid="enrollment-status">{label(enrollment.status)}</strong>
        {enrollment.stopReason && ` (${label(enrollment.stopReason)})`} · {sent} of {enrollment.emails.length} emails sent · started{' '}
        {time(enrollment.startedAt)}
      </p>
      <div class="actions">
        {enrollment.status === 'ACTIVE' && (
          <button type="button" disabled={busy} onClick={() => act(() => api.request(PauseMutation, variables))}>
            Pause {title}
          </button>
        )}
        {enrollment.status === 'PAUSED' && (
          <button type="button" disabled={busy} onClick={() => act(() => api.request(ResumeMutation, variables))}>
            Resume {title}
          </button>
        )}
        {(enrollment.status === 'ACTIVE' || enrollment.status === 'PAUSED') &&
          (confirmStop ? (
            <>
              <button type="button" class="danger" disabled={busy} onClick={() => act(() => api.request(StopMutation, variables))}>
                Confirm: stop {title} for good
              </button>
              <button type="button" disabled={busy} onClick={() => setConfirmStop(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" disabled={busy} onClick={() => setConfirmStop(true)}>
              Stop {title}…
            </button>
          ))}
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </li>
  );
}
