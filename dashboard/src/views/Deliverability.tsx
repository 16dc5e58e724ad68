import { DeliverabilityQuery } from '../api/analytics-operations';
import type { DashboardDeliverabilityQuery, DashboardWindowFragment } from '../gql/graphql';
import { messageOf, percent, time } from '../format';
import { useLive, useLoad, useThrottled, type Services } from '../hooks';

type Levels = DashboardDeliverabilityQuery['deliverability']['levels'];

/** The company's bounce and complaint rates against the guard's warning and pause levels and SES's own. */
export function Deliverability({ api, live }: Services) {
  const state = useLoad(() => api.request(DeliverabilityQuery, {}), 'company');
  const refresh = useThrottled(state.reload, 1_000);
  useLive(live, (event) => (event.kind === 'deliverability' || event.kind === 'resync' || (event.kind === 'email' && event.status === 'BOUNCED')) && refresh());

  if (state.error && !state.data) {
    return (
      <section aria-labelledby="deliverability-title">
        <h2 id="deliverability-title">Deliverability</h2>
        <p role="alert" class="error">
          Deliverability is not available: {messageOf(state.error)}
        </p>
      </section>
    );
  }
  if (!state.data) return <p aria-busy="true">Loading deliverability…</p>;
  const d = state.data.deliverability;
  return (
    <section aria-labelledby="deliverability-title">
      <h2 id="deliverability-title">Deliverability</h2>
      <p class={`state state-${d.state.toLowerCase()}`} data-testid="deliverability-state">
        Sending is <strong>{d.state === 'OK' ? 'healthy' : d.state === 'WARNING' ? 'at a warning level' : 'paused'}</strong> (state {d.state})
        {d.changedAt && ` since ${time(d.changedAt)}`}.
      </p>
      {d.reason && <p data-testid="deliverability-reason">Reason: {d.reason}</p>}
      {d.state === 'PAUSED' && (
        <p class="error">
          No email of this company is sent{d.pausedAt ? ` since ${time(d.pausedAt)}` : ''}. An operator resumes sending once the cause is fixed
          (resumeCompanySending).
        </p>
      )}
      {d.windows.map((window) => (
        <WindowRates key={window.days} window={window} levels={d.levels} />
      ))}
      <p class="hint">Rates are judged only with at least {d.levels.minimumSends} sends in a window; below that they are shown but do not count.</p>
    </section>
  );
}

function WindowRates({ window: w, levels }: { window: DashboardWindowFragment; levels: Levels }) {
  return (
    <table class="data" data-testid={`window-${w.days}`}>
      <caption>
        Last {w.days} days: {w.sent} sent, {w.bounced} bounced, {w.complained} complaints{w.enoughVolume ? '' : ' (not enough volume to judge)'}
      </caption>
      <thead>
        <tr>
          <th scope="col">Rate</th>
          <th scope="col">Now</th>
          <th scope="col">Warning at</th>
          <th scope="col">Paused at</th>
          <th scope="col">SES review at</th>
          <th scope="col">SES pause at</th>
          <th scope="col">Against the pause level</th>
        </tr>
      </thead>
      <tbody>
        <RateRow
          name="Bounces"
          rate={w.bounceRate}
          levels={[levels.warningBounceRate, levels.pauseBounceRate, levels.sesReviewBounceRate, levels.sesPauseBounceRate]}
          digits={2}
        />
        <RateRow
          name="Complaints"
          rate={w.complaintRate}
          levels={[levels.warningComplaintRate, levels.pauseComplaintRate, levels.sesReviewComplaintRate, levels.sesPauseComplaintRate]}
          digits={3}
        />
      </tbody>
    </table>
  );
}

function RateRow({ name, rate, levels, digits }: { name: string; rate: number | null | undefined; levels: [number, number, number, number]; digits: number }) {
  const [warning, pause] = levels;
  const tone = rate == null ? '' : rate >= pause ? 'bad' : rate >= warning ? 'warn' : 'good';
  return (
    <tr>
      <th scope="row">{name}</th>
      <td class={`num ${tone}`}>{percent(rate, digits)}</td>
      {levels.map((level, index) => (
        <td class="num" key={index}>
          {percent(level, digits)}
        </td>
      ))}
      <td>
        <meter
          min={0}
          max={pause}
          low={warning}
          high={warning}
          optimum={0}
          value={Math.min(rate ?? 0, pause)}
          aria-label={`${name} rate against the pause level`}
        >
          {percent(rate, digits)}
        </meter>
      </td>
    </tr>
  );
}
