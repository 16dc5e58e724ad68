import { useEffect, useRef, useState } from 'preact/hooks';

/** Asks for an API key; the caller keeps it in sessionStorage only (gone when the tab closes). */
export function KeyPrompt({ error, onKey }: { error: string | undefined; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), [error]);
  return (
    <main id="main" class="signin">
      <h1>Lead nurture dashboard</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim()) onKey(value.trim());
        }}
      >
        <p>Enter a company API key. It is kept in this browser tab only (sessionStorage) and sent only to this server.</p>
        {error && (
          <p role="alert" class="error" id="key-error" data-testid="key-error">
            {error}
          </p>
        )}
        <label for="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          type="password"
          autoComplete="off"
          spellcheck={false}
          placeholder="lnk_…"
          value={value}
          maxLength={200}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'key-error' : undefined}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        <button type="submit">Open dashboard</button>
      </form>
    </main>
  );
}
