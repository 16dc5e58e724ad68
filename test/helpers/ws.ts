import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface WsConnection {
  client: Client;
  /** Resolves with the close code once the socket closes. */
  closed: Promise<number>;
  /** Resolves when the server acknowledged the connection. */
  connected: Promise<void>;
}

/** A real graphql-ws client over a real WebSocket. */
export function connectWs(httpUrl: string, connectionParams: Record<string, unknown>): WsConnection {
  let onClosed!: (code: number) => void;
  let onConnected!: () => void;
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: {
      connected: () => onConnected(),
      closed: (event) => onClosed((event as { code: number }).code),
    },
    onNonLazyError: () => undefined,
  });
  return { client, closed, connected };
}
