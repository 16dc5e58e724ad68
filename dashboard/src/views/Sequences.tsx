import { useEffect, useMemo, useState } from 'preact/hooks';
import { SequenceAnalyticsQuery } from '../api/analytics-operations';
import { SequencesQuery } from '../api/operations';
import type { AnalyticsInterval, DashboardCountsFragment, DashboardRatesFragment } from '../gql/graphql';
import { messageOf, percent } from '../format';
import { useLive, useLoad, useThrottled, type Services } from '../hooks';
import { TimeChart } from './Chart';

const RANGES: Array<{ id: string; label: string; hours: number; interval: AnalyticsInterval }> = [
  { id: '24h', label: 'Last 24 hours', hours: 24, interval: 'HOUR' },
  { id: '7d', label: 'Last 7 days', hours: 24 * 7, interval: 'HOUR' },
  { id: '30d', label: 'Last 30 days', hours: 24 * 30, interval: 'DAY' },
];

/** Per sequence: the funnel by step and its rates (human and machine engagement apart), and a time series. */
export function Sequences({ api, live }: Services) {
  const sequences = useLoad(() => api.request(SequencesQuery, {}), 'all');
  const [selected, setSelected] = useState<string | undefined>();
  const [rangeId, setRangeId] = useState('7d');
  const list = sequences.data?.sequences.edges.map((edge) => edge.node) ?? [];
  const sequenceId = selected ?? list[0]?.id;

  return (
    <section aria-labelledby="sequences-title">
      <h2 id="sequences-title">Sequences</h2>
      {sequences.error && (
        <p role="alert" class="error">
          Could not load sequences: {messageOf(sequences.error)}
        </p>
      )}
      <div class="toolbar">
        <label for="sequence-select">Sequence</label>
        <select id="sequence-select" value={sequenceId} onChange={(event) => setSelected(event.currentTarget.value)}>
          {list.map((sequence) => (
            <option key={sequence.id} value={sequence.id}>
              {sequence.name}
              {sequence.active ? '' : ' (inactive)'}
            </option>
          ))}
        </select>
        <label for="range-select">Period</label>
        <select id="range-select" value={rangeId} onChange={(event) => setRangeId(event.currentTarget.value)}>
          {RANGES.map((range) => (
            <option key={range.id} value={range.id}>
              {range.label}
            </option>
          ))}
        </select>
      </div>
      {sequenceId && <SequenceReport api={api} live={live} sequenceId={sequenceId} range={RANGES.find((r) => r.id === rangeId) ?? RANGES[1]!} />}
    </section>
  );
}

function SequenceReport({ api, live, sequenceId, range }: Services & { sequenceId: string; range: (typeof RANGES)[number] }) {
  // The period ends at the next whole hour, so events of the current hour are inside it as they arrive.
  const [now, setNow] = useState(() => Date.now());
  const to = new Date(Math.ceil(now / 3_600_000) * 3_600_000 + 3_600_000);
  const from = new Date(to.getTime() - range.hours * 3_600_000);
  const report = useLoad(
    () => api.request(SequenceAnalyticsQuery, { sequenceId, from: from.toISOString(), to: to.toISOString(), interval: range.interval }),
    `${sequenceId}|${range.id}|${to.getTime()}`,
  );
  const refresh = useThrottled(() => {
    setNow(Date.now());
    report.reload();
  }, 1_000);
  useLive(live, (event) => (event.kind === 'email' || event.kind === 'enrollment') && event.sequenceId === sequenceId && refresh());
  useLive(live, (event) => (event.kind === 'score' || event.kind === 'resync') && refresh()); // an open or a click scores: the funnel moved
  useEffect(() => setNow(Date.now()), [sequenceId, range.id]);

  const series = useMemo(() => {
    const points = report.data?.sequenceTimeSeries ?? [];
    return {
      times: points.map((p) => Date.parse(p.start) / 1000),
      series: [
        { label: 'Sent', color: '#1f4e99', values: points.map((p) => p.counts.sent) },
        { label: 'Delivered', color: '#3a7d44', values: points.map((p) => p.counts.delivered) },
        { label: 'Human opens', color: '#b35900', values: points.map((p) => p.counts.uniqueHumanOpens) },
        { label: 'Machine opens', color: '#777777', values: points.map((p) => p.counts.uniqueMachineOpens), dash: [6, 4] },
        { label: 'Human clicks', color: '#8e2c8e', values: points.map((p) => p.counts.uniqueHumanClicks) },
      ],
    };
  }, [report.data]);

  if (report.error && !report.data) {
    return (
      <p role="alert" class="error">
        Analytics are not available: {messageOf(report.error)}
      </p>
    );
  }
  if (!report.data) return <p aria-busy="true">Loading analytics…</p>;
  const { counts, rates, steps } = report.data.sequenceAnalytics;
  return (
    <>
      <ul class="tiles" aria-label="Totals for the period">
        <Tile name="Enrolled" value={counts.enrolled} id="total-enrolled" />
        <Tile name="Sent" value={counts.sent} id="total-sent" />
        <Tile name="Delivered" value={counts.delivered} rate={percent(rates.deliveryRate)} id="total-delivered" />
        <Tile name="Human opens" value={counts.uniqueHumanOpens} rate={percent(rates.openRate)} id="total-human-opens" />
        <Tile name="Machine opens" value={counts.uniqueMachineOpens} rate={percent(rates.machineOpenRate)} id="total-machine-opens" />
        <Tile name="Human clicks" value={counts.uniqueHumanClicks} rate={percent(rates.clickRate)} id="total-human-clicks" />
        <Tile name="Replies" value={counts.replied} rate={percent(rates.replyRate)} id="total-replied" />
        <Tile name="Bounced" value={counts.bouncedPermanent} rate={percent(rates.bounceRate, 2)} id="total-bounced" />
        <Tile name="Complaints" value={counts.complained} rate={percent(rates.complaintRate, 3)} id="total-complained" />
        <Tile name="Unsubscribed" value={counts.unsubscribed} rate={percent(rates.unsubscribeRate)} id="total-unsubscribed" />
      </ul>
      <Funnel steps={steps} from={report.data.sequenceAnalytics.from} to={report.data.sequenceAnalytics.to} />
      <TimeChart title={`Per ${range.interval.toLowerCase()}, by send time`} times={series.times} series={series.series} />
    </>
  );
}

function Tile({ name, value, rate, id }: { name: string; value: number; rate?: string; id: string }) {
  return (
    <li class="tile">
      <span class="tile-name">{name}</span>
      <span class="tile-value" data-testid={id}>
        {value}
      </span>
      {rate && <span class="tile-rate">{rate}</span>}
    </li>
  );
}

type Step = { emailNumber: number; counts: DashboardCountsFragment; rates: DashboardRatesFragment };
// Per step: what happened to that step's emails. Enrollments belong to the sequence, not a step: a tile above.

const COLUMNS: Array<[string, keyof DashboardCountsFragment]> = [
  ['Sent', 'sent'],
  ['Delivered', 'delivered'],
  ['Human opens', 'uniqueHumanOpens'],
  ['Machine opens', 'uniqueMachineOpens'],
  ['Human clicks', 'uniqueHumanClicks'],
  ['Machine clicks', 'uniqueMachineClicks'],
  ['Replied', 'replied'],
  ['Bounced', 'bouncedPermanent'],
  ['Complained', 'complained'],
  ['Unsubscribed', 'unsubscribed'],
  ['Failed', 'failed'],
];

function Funnel({ steps, from, to }: { steps: Step[]; from: string; to: string }) {
  const widest = Math.max(1, ...steps.map((step) => step.counts.sent));
  return (
    // Wider than a narrow window: it scrolls on its own, and takes focus so the keyboard can scroll it too.
    <div class="scroll" tabIndex={0} role="region" aria-label="Funnel by step">
      <table class="data funnel" data-testid="funnel" data-from={from} data-to={to}>
        <caption>
          Funnel by step: every outcome counted with the email's send time; machine engagement (prefetch, scanners) apart and never in the rates
        </caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            {COLUMNS.map(([title]) => (
              <th scope="col" key={title}>
                {title}
              </th>
            ))}
            <th scope="col">Open rate</th>
            <th scope="col">Click rate</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step) => (
            <tr key={step.emailNumber} data-step={step.emailNumber}>
              <th scope="row">
                Email {step.emailNumber}
                <span class="bar" aria-hidden="true" style={{ width: `${(step.counts.sent / widest) * 100}%` }} />
              </th>
              {COLUMNS.map(([title, key]) => (
                <td class="num" key={key} data-testid={`step-${step.emailNumber}-${key}`} data-label={title}>
                  {step.counts[key]}
                </td>
              ))}
              <td class="num">{percent(step.rates.openRate)}</td>
              <td class="num">{percent(step.rates.clickRate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
