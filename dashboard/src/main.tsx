// Entry point: find the API key, check it, then open the live connection and the views.
//
// Where the key comes from: in development the server puts the demo company's key in a <meta> tag, but only for a
// request from this machine (loopback, with a loopback Host: src/http/dashboard.routes.ts); everywhere else the
// page asks for one and keeps it in sessionStorage only, never localStorage or a cookie.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, createApi } from './api/client';
import { LiveEvents } from './api/live';
import { ViewerQuery } from './api/operations';
import { App } from './App';
import type { Services } from './hooks';
import { KeyPrompt } from './views/KeyPrompt';
import './styles.css';

const STORAGE_KEY = 'lead-nurture.apiKey';

const devKey = () => document.querySelector<HTMLMetaElement>('meta[name="lead-nurture-dev-key"]')?.content || undefined;
const storedKey = () => window.sessionStorage.getItem(STORAGE_KEY) ?? undefined;

type Phase = { kind: 'checking' } | { kind: 'prompt'; error?: string } | { kind: 'ready'; services: Services; company: string };

function refusal(error: unknown): string {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') {
    const why =
      error.reason === 'API_KEY_REVOKED'
        ? 'it has been revoked'
        : error.reason === 'MALFORMED_AUTHORIZATION'
          ? 'it is not an API key'
          : error.reason === 'API_KEY_UNKNOWN'
            ? 'no company has it'
            : error.message;
    return `This API key was not accepted: ${why} (${error.reason ?? error.code}). Check that you copied the whole key; it starts with lnk_.`;
  }
  if (error instanceof ApiError && error.code === 'FORBIDDEN') return `This is not a company API key (${error.reason ?? error.code}): the dashboard needs one.`;
  return `Could not reach the API: ${error instanceof Error ? error.message : String(error)}`;
}

function Root() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  const [live, setLive] = useState(false);
  const [key, setKey] = useState<string | undefined>(() => storedKey() ?? devKey());

  useEffect(() => {
    if (!key) return setPhase((p) => (p.kind === 'prompt' ? p : { kind: 'prompt' }));
    setPhase({ kind: 'checking' });
    let services: Services | undefined;
    const signOut = (error: unknown) => {
      window.sessionStorage.removeItem(STORAGE_KEY);
      setKey(undefined);
      setPhase({ kind: 'prompt', error: refusal(error) });
    };
    const api = createApi(key, {
      onUnauthenticated: signOut,
      onLive: (up) => {
        setLive(up);
        if (up) services?.live.connected();
      },
    });
    api.request(ViewerQuery, {}).then(
      ({ viewer }) => {
        if (key !== devKey()) window.sessionStorage.setItem(STORAGE_KEY, key);
        services = { api, live: new LiveEvents(api) };
        services.live.start();
        setPhase({ kind: 'ready', services, company: viewer.name });
      },
      (error: unknown) => {
        api.dispose();
        signOut(error);
      },
    );
    return () => {
      services?.live.stop();
      api.dispose();
    };
  }, [key]);

  if (phase.kind === 'checking') return <p aria-busy="true">Checking the API key…</p>;
  if (phase.kind === 'prompt') return <KeyPrompt error={phase.error} onKey={setKey} />;
  return (
    <App
      services={phase.services}
      company={phase.company}
      live={live}
      onSignOut={() => {
        window.sessionStorage.removeItem(STORAGE_KEY);
        setKey(undefined);
        setPhase({ kind: 'prompt' });
      }}
    />
  );
}

render(<Root />, document.getElementById('app')!);
