import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Untyped } from './graphql.js';

export interface WsConnection {
  client: Client;
  /** Resolves with the close code once the socket closes. */
  closed: Promise<number>;
  /** Resolves with the close reason once the socket closes. */
  closeReason: Promise<string>;
  /** Resolves when the server acknowledged the connection. */
  connected: Promise<void>;
}

/** A real graphql-ws client over a real WebSocket. */
export function connectWs(httpUrl: string, connectionParams: Record<string, unknown>): WsConnection {
  let onClosed!: (code: number) => void;
  let onCloseReason!: (reason: string) => void;
  let onConnected!: () => void;
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const closeReason = new Promise<string>((resolve) => (onCloseReason = resolve));
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        onClosed((event as { code: number }).code);
        onCloseReason((event as { reason?: string }).reason ?? '');
      },
    },
    onNonLazyError: () => undefined,
  });
  return { client, closed, closeReason, connected };
}

/** A live subscription whose events are collected as they arrive. */
export interface Subscription<T> {
  /** The next event not yet taken; rejects on a GraphQL error, when the stream ends, or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>;
  /** Every event that arrives within `ms` (and any not yet taken): proves absence when it is empty. */
  within(ms: number): Promise<T[]>;
  /** Stops the subscription (the server ends its stream). */
  dispose(): void;
}

/** Subscribes with a real graphql-ws client; each `next` message's data is collected. */
export function subscribe<T = Record<string, Untyped>>(client: Client, query: string, variables?: Record<string, unknown>): Subscription<T> {
  const unread: T[] = [];
  const waiting: Array<{ resolve: (value: T) => void; reject: (error: Error) => void }> = [];
  let ended: Error | undefined;
  const end = (error: Error) => {
    ended ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(ended);
  };
  const unsubscribe = client.subscribe<T>(
    { query, ...(variables ? { variables } : {}) },
    {
      next: (result) => {
        if (result.errors?.length || !result.data) return end(new Error(`subscription event with errors: ${JSON.stringify(result.errors)}`));
        const waiter = waiting.shift();
        if (waiter) waiter.resolve(result.data);
        else unread.push(result.data);
      },
      error: (error) => end(error instanceof Error ? error : new Error(`subscription failed: ${JSON.stringify(error)}`)),
      complete: () => end(new Error('subscription completed')),
    },
  );
  return {
    next(timeoutMs = 5_000) {
      if (unread.length > 0) return Promise.resolve(unread.shift()!);
      if (ended) return Promise.reject(ended);
      return new Promise<T>((resolve, reject) => {
        const waiter = {
          resolve: (value: T) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (error: Error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`no subscription event within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push(waiter);
      });
    },
    async within(ms) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return unread.splice(0);
    },
    dispose: unsubscribe,
  };
}

/**
 * Waits until the server process has exactly `count` live subscriptions, so an event published next cannot
 * race the subscription's registration (graphql-ws does not acknowledge a subscribe message).
 */
export async function subscriptionsOpen(stats: () => { subscribers: number }, count: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (stats().subscribers !== count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} open subscriptions, have ${stats().subscribers}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
