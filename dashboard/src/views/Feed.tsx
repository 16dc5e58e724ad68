import { Component } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { FEED_LIMIT, type FeedEvent, type FeedItem, type LiveEvents } from '../api/live';
import { label, percent, signed, time } from '../format';

/** What happened, newest first: score changes with their reasons, email and enrollment changes, deliverability. */
export function Feed({ live }: { live: LiveEvents }) {
  const [items, setItems] = useState(live.items);
  // Auto-updating content can be paused (WCAG 2.2.2): the feed keeps collecting, the list holds still until resumed.
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    setItems(live.items);
    // At most one render per frame, however fast events arrive: a burst of them costs one update of the list.
    let frame: number | undefined;
    const stop = live.watchFeed(() => {
      frame ??= window.requestAnimationFrame(() => {
        frame = undefined;
        setItems(live.items);
      });
    });
    return () => {
      stop();
      if (frame !== undefined) window.cancelAnimationFrame(frame);
    };
  }, [live, paused]);
  return (
    <section aria-labelledby="feed-title">
      <h2 id="feed-title">Live feed</h2>
      <p class="hint">
        Events arrive over GraphQL subscriptions as they happen; the newest {FEED_LIMIT} are kept. {live.received} received since this page opened.
      </p>
      <p>
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume the feed' : 'Pause the feed'}
        </button>
      </p>
      {items.length === 0 ? (
        <p>Nothing yet. Create a lead, open an email or change an enrollment and it shows here.</p>
      ) : (
        <ol class="feed" data-testid="feed">
          {items.map((item) => (
            <FeedEntry key={item.seq} item={item} />
          ))}
        </ol>
      )}
    </section>
  );
}

/** An item never changes once received: it renders once, and is only moved down the list afterwards. */
class FeedEntry extends Component<{ item: FeedItem }> {
  override shouldComponentUpdate(next: { item: FeedItem }) {
    return next.item !== this.props.item;
  }
  override render({ item }: { item: FeedItem }) {
    const { title, detail, tone } = describe(item.event);
    return (
      <li class={`feed-item ${tone}`} data-kind={item.event.kind}>
        <time dateTime={new Date(item.receivedAt).toISOString()}>{time(item.receivedAt)}</time>
        <span class="feed-title">{title}</span>
        <span class="feed-detail">{detail}</span>
      </li>
    );
  }
}

function leadLink(leadId: string, email: string | null | undefined) {
  return <a href={`#leads/${leadId}`}>{email ?? 'lead without email'}</a>;
}

function describe(event: FeedEvent) {
  switch (event.kind) {
    case 'score':
      return {
        tone: event.delta >= 0 ? 'up' : 'down',
        title: (
          <>
            Score {leadLink(event.leadId, event.email)} {event.previousScore} → <strong>{event.score}</strong> ({signed(event.delta)})
          </>
        ),
        detail: event.reason,
      };
    case 'email':
      return {
        tone: event.status === 'BOUNCED' || event.status === 'FAILED' ? 'bad' : 'neutral',
        title: (
          <>
            Email {event.emailNumber} of “{event.sequenceName}” to {leadLink(event.leadId, event.email)}: <strong>{label(event.status)}</strong>
          </>
        ),
        detail: '',
      };
    case 'enrollment':
      return {
        tone: event.status === 'STOPPED' ? 'bad' : 'neutral',
        title: (
          <>
            Enrollment of {leadLink(event.leadId, event.email)} in “{event.sequenceName}”:{' '}
            <strong>{event.status === 'ACTIVE' ? 'Active (enrolled or resumed)' : label(event.status)}</strong>
          </>
        ),
        detail: event.stopReason ? `Stop reason: ${label(event.stopReason)}` : '',
      };
    case 'deliverability': {
      const week = event.windows[0];
      return {
        tone: event.state === 'OK' ? 'neutral' : 'bad',
        title: (
          <>
            Deliverability {label(event.previousState)} → <strong>{label(event.state)}</strong>
          </>
        ),
        detail: `${event.reason ?? ''}${week ? ` (bounce ${percent(week.bounceRate, 2)}, complaints ${percent(week.complaintRate, 3)})` : ''}`,
      };
    }
  }
}
