import { useEffect, useState } from 'preact/hooks';
import type { Services } from './hooks';
import { Deliverability } from './views/Deliverability';
import { Feed } from './views/Feed';
import { LeadDetail } from './views/LeadDetail';
import { Leads } from './views/Leads';
import { Sequences } from './views/Sequences';

const VIEWS = [
  { id: 'feed', title: 'Live feed' },
  { id: 'sequences', title: 'Sequences' },
  { id: 'deliverability', title: 'Deliverability' },
  { id: 'leads', title: 'Leads' },
] as const;

function readRoute(): { view: string; leadId?: string } {
  const [view = 'feed', leadId] = window.location.hash.replace(/^#/, '').split('/');
  return { view: VIEWS.some((v) => v.id === view) ? view : 'feed', ...(leadId ? { leadId } : {}) };
}

/** The signed-in page: navigation by plain links (#feed, #leads/<id>, …), so the keyboard and history just work. */
export function App({ services, company, live, onSignOut }: { services: Services; company: string; live: boolean; onSignOut: () => void }) {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onHash = () => {
      setRoute(readRoute());
      // Focus follows navigation, so a keyboard or screen-reader user lands on the new view's heading.
      window.requestAnimationFrame(() => document.getElementById('main')?.focus());
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  return (
    <>
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <h1>Lead nurture</h1>
        <span class="company" data-testid="company">
          {company}
        </span>
        <span class={live ? 'live on' : 'live off'} role="status" data-testid="live">
          {live ? 'Live' : 'Reconnecting…'}
        </span>
        <button type="button" onClick={onSignOut}>
          Use another key
        </button>
      </header>
      <nav aria-label="Views" class="tabs">
        <ul>
          {VIEWS.map((v) => (
            <li key={v.id}>
              <a href={`#${v.id}`} aria-current={route.view === v.id ? 'page' : undefined}>
                {v.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {route.view === 'feed' && <Feed live={services.live} />}
        {route.view === 'sequences' && <Sequences {...services} />}
        {route.view === 'deliverability' && <Deliverability {...services} />}
        {route.view === 'leads' && (route.leadId ? <LeadDetail {...services} leadId={route.leadId} /> : <Leads {...services} />)}
      </main>
    </>
  );
}
