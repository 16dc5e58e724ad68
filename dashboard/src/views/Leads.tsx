import { useEffect, useState } from 'preact/hooks';
import { LeadsQuery } from '../api/operations';
import type { DashboardLeadsQuery } from '../gql/graphql';
import { messageOf, time } from '../format';
import { useLive, useLoad, useThrottled, type Services } from '../hooks';

const PAGE_SIZE = 20;

/** The company's leads by score, highest first, with search and paging; scores update live. */
export function Leads({ api, live }: Services) {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  // Relay connections page forward: the cursors of the pages before this one are kept to go back.
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const page = useLoad(() => api.request(LeadsQuery, { first: PAGE_SIZE, after, search: applied || null }), `${applied}|${after}`);
  const [rows, setRows] = useState<DashboardLeadsQuery['leads']['edges']>([]);
  useEffect(() => page.data && setRows(page.data.leads.edges), [page.data]);

  const refresh = useThrottled(page.reload, 1_000);
  useLive(live, (event) => {
    if (event.kind === 'score') {
      // Patched in place at once (the score is on screen within the event's delivery), reordered by the next refresh.
      setRows((current) => current.map((edge) => (edge.node.id === event.leadId ? { ...edge, node: { ...edge.node, score: event.score } } : edge)));
      refresh();
    } else if (event.kind === 'resync' || (event.kind === 'enrollment' && !rows.some((edge) => edge.node.id === event.leadId))) {
      refresh(); // a lead this page does not show yet (a new lead is enrolled as it is created), or events were missed
    }
  });
  useEffect(() => {
    const timer = window.setInterval(page.reload, 10_000); // leads created without any enrollment have no event
    return () => window.clearInterval(timer);
  }, [page.reload]);

  const total = page.data?.leads.totalCount;
  const first = (cursors.length - 1) * PAGE_SIZE;
  return (
    <section aria-labelledby="leads-title">
      <h2 id="leads-title">Leads</h2>
      <form
        class="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied(search.trim());
          setCursors([null]);
        }}
      >
        <label for="lead-search">Search by name, email or company</label>
        <input id="lead-search" type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} maxLength={200} />
        <button type="submit">Search</button>
      </form>
      {page.error && (
        <p role="alert" class="error">
          Could not load leads: {messageOf(page.error)}
        </p>
      )}
      <table class="data" data-testid="leads-table">
        <caption>
          {total === undefined ? 'Loading…' : total === 0 ? 'No leads' : `Leads ${first + 1}–${first + rows.length} of ${total}, highest score first`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Score</th>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Company</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ node }) => (
            <tr key={node.id} data-lead-id={node.id}>
              <td class="num" data-testid="lead-score">
                {node.score}
              </td>
              <td>
                <a href={`#leads/${node.id}`}>{node.email ?? '(no email)'}</a>
              </td>
              <td>{[node.firstName, node.lastName].filter(Boolean).join(' ')}</td>
              <td>{node.companyName}</td>
              <td>{time(node.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Lead pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          disabled={!page.data?.leads.pageInfo.hasNextPage}
          onClick={() => page.data && setCursors([...cursors, page.data.leads.pageInfo.endCursor ?? null])}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
