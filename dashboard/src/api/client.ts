// The dashboard's GraphQL client: fetch for queries and mutations, one graphql-ws connection for every
// subscription, both carrying the API key exactly as any other client of the public API would.
import { createClient, type Client } from 'graphql-ws/client';
import type { TypedDocumentString } from '../gql/graphql';

/** An error the API answered, with its `extensions.code` and `extensions.reason` (README, Errors). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  message: string;
  extensions?: { code?: string; reason?: string };
}

export interface Api {
  request<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R>;
  /** Starts a subscription; returns the function that stops it. */
  subscribe<R, V>(document: TypedDocumentString<R, V>, variables: V, onData: (data: R) => void): () => void;
  dispose(): void;
}

export interface ApiEvents {
  /** The key stopped being accepted (revoked, or wrong): HTTP 401 or WebSocket close 4403. */
  onUnauthenticated(error: ApiError): void;
  /** The subscription connection is up (true) or lost and retrying (false). */
  onLive(live: boolean): void;
}

const graphqlUrl = () => new URL('/graphql', window.location.href);

export function createApi(apiKey: string, events: ApiEvents): Api {
  const authorization = `Bearer ${apiKey}`;
  const ws: Client = createClient({
    url: graphqlUrl().href.replace(/^http/, 'ws'),
    connectionParams: { authorization },
    // Lost connections come back (a server restart); a refused key (4403) does not, and the page says so.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
    on: {
      connected: () => events.onLive(true),
      closed: (event) => {
        events.onLive(false);
        if (event instanceof CloseEvent && event.code === 4403) {
          // A close carries a reason text, not a code: the server's revocation close says so in words (README, API keys).
          const revoked = /revoked/i.test(event.reason);
          events.onUnauthenticated(new ApiError(event.reason || 'The API key was refused', 'UNAUTHENTICATED', revoked ? 'API_KEY_REVOKED' : undefined));
        }
      },
    },
  });

  return {
    async request(document, variables) {
      const response = await fetch(graphqlUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: document.toString(), variables }),
      });
      const body = (await response.json().catch(() => ({}))) as { data?: unknown; errors?: ErrorBody[] };
      const first = body.errors?.[0];
      if (first || !body.data) {
        const error = new ApiError(first?.message ?? `HTTP ${response.status}`, first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR', first?.extensions?.reason);
        if (error.code === 'UNAUTHENTICATED') events.onUnauthenticated(error);
        throw error;
      }
      return body.data as never;
    },
    subscribe(document, variables, onData) {
      return ws.subscribe<never>(
        { query: document.toString(), variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            if (result.data) onData(result.data);
          },
          error: () => undefined, // closes are reported through `on.closed`; the client resubscribes on reconnect
          complete: () => undefined,
        },
      );
    },
    dispose: () => void ws.dispose(),
  };
}
