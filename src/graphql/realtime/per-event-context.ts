import type { MikroORM } from '@mikro-orm/postgresql';
import { createSourceEventStream, execute, print, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Context } from '../context.js';

type Subscribe = (args: ExecutionArgs) => Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;

/**
 * graphql-ws `subscribe` for the app: graphql-js's own, with two changes to how each event is executed.
 *
 * 1. A fresh context per event, whose EntityManager is forked from the ORM on first use. graphql-ws builds the
 *    context once per subscription; an EntityManager kept for hours would grow its identity map with every event
 *    and serve stale entities. Events whose selection needs no database never fork at all.
 * 2. Subscribers of the same company running the same operation with the same variables share one execution
 *    per event: a thousand dashboards on one query cost one execution (and at most one load) per event, not a
 *    thousand. The company is part of the key, and an event only ever reaches its own company's subscribers.
 */
export function subscribeEvents(orm: MikroORM): Subscribe {
  return subscribeWithContextPerEvent<Context>({
    forEvent: (context) => {
      let em: Context['em'] | undefined;
      return {
        ...context,
        get em() {
          return (em ??= orm.em.fork());
        },
      };
    },
    shareBy: (context) => (context.auth.kind === 'company' ? context.auth.companyId : undefined),
  });
}

/** The mechanism behind subscribeEvents, independent of the app's Context. */
export function subscribeWithContextPerEvent<C>(options: { forEvent: (subscriptionContext: C) => C; shareBy: (context: C) => string | undefined }): Subscribe {
  // Results by event, then by subscription key; entries go when the event object does (all queues read it).
  const shared = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
  return async (args) => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream; // errors before the stream started (auth, bad args)
    const context = args.contextValue as C;
    const owner = options.shareBy(context);
    const key = owner === undefined ? undefined : JSON.stringify([owner, args.operationName ?? null, print(args.document), args.variableValues ?? {}]);
    const run = (payload: unknown) => execute({ ...args, rootValue: payload, contextValue: options.forEvent(context) });
    return mapEvents(stream, (payload) => {
      if (key === undefined || typeof payload !== 'object' || payload === null) return run(payload);
      const byKey = shared.get(payload) ?? new Map<string, Promise<ExecutionResult>>();
      shared.set(payload, byKey);
      let result = byKey.get(key);
      if (!result) byKey.set(key, (result = Promise.resolve(run(payload))));
      return result;
    });
  };
}

/**
 * Maps a stream without buffering, forwarding `return` at once even while a `next` is pending (an async
 * generator would queue it behind the pending event, leaving an idle subscription registered forever).
 */
function mapEvents<T, U>(source: AsyncIterable<T>, map: (value: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  const finish = async (): Promise<IteratorResult<U, void>> => {
    await iterator.return?.();
    return { value: undefined, done: true };
  };
  // `return` is what graphql-ws looks for to stop a subscription when its client completes or leaves.
  const mapped: AsyncIterableIterator<U> & { return: () => Promise<IteratorResult<U, void>> } = {
    async next() {
      const result = await iterator.next();
      if (result.done) return { value: undefined, done: true };
      try {
        return { value: await map(result.value), done: false };
      } catch (error) {
        await finish();
        throw error;
      }
    },
    return: finish,
    async throw(error: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}
