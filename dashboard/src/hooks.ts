import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Api } from './api/client';
import type { LiveEvent, LiveEvents } from './api/live';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `key` changes and whenever `reload` is called; concurrent reloads collapse into one trailing run,
 * so a burst of live events costs at most one request in flight and one queued.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const current = useRef({ key, running: false, again: false, alive: true });
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = () => {
    const flags = current.current;
    if (flags.running) {
      flags.again = true;
      return;
    }
    flags.running = true;
    const forKey = flags.key;
    loadRef
      .current()
      .then(
        (data) => flags.alive && forKey === flags.key && setState({ data, error: undefined, loading: false }),
        (error: unknown) =>
          flags.alive && forKey === flags.key && setState((s) => ({ ...s, error: error instanceof Error ? error : new Error(String(error)), loading: false })),
      )
      .finally(() => {
        flags.running = false;
        if (flags.again && flags.alive) {
          flags.again = false;
          run();
        }
      });
  };

  useEffect(() => {
    current.current.key = key;
    current.current.again = false;
    setState((s) => ({ ...s, loading: true }));
    run();
  }, [key]);
  useEffect(
    () => () => {
      current.current.alive = false;
    },
    [],
  );
  // The same function for the component's life, so effects and timers that hold it never go stale or restart.
  const runRef = useRef(run);
  runRef.current = run;
  const reload = useMemo(() => () => runRef.current(), []);
  return { ...state, reload };
}

/** Calls `onEvent` for each live event while the component is mounted. */
export function useLive(live: LiveEvents, onEvent: (event: LiveEvent) => void): void {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => live.listen((event) => handler.current(event)), [live]);
}

/** A function that runs `fn` at most once per `ms`, the last call of a burst included. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const state = useRef<{ timer: number | undefined; last: number; fn: () => void }>({ timer: undefined, last: 0, fn });
  state.current.fn = fn;
  useEffect(() => () => window.clearTimeout(state.current.timer), []);
  return () => {
    const s = state.current;
    if (s.timer !== undefined) return;
    const wait = Math.max(0, s.last + ms - Date.now());
    s.timer = window.setTimeout(() => {
      s.timer = undefined;
      s.last = Date.now();
      s.fn();
    }, wait);
  };
}

export interface Services {
  api: Api;
  live: LiveEvents;
}
