import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import { pendingMigrations } from '../db/orm.js';

/**
 * `GET /healthz`: the process is up (liveness). `GET /readyz`: it can serve its own traffic (readiness): the
 * database answers within 2 s and every migration is applied; 503 with the reason otherwise. A paused SES account
 * is deliberately not a reason: a probe would take GraphQL, pixels, redirects and unsubscribes out of service
 * because sending stopped. Sending state is reported by `deliveryStatus` and the log.
 */
export function registerHealthRoutes(http: FastifyInstance, deps: { orm: MikroORM }): void {
  const { orm } = deps;
  http.get('/healthz', () => ({ status: 'ok' }));

  let migrationsApplied = false;
  http.get('/readyz', async (_request, reply) => {
    try {
      await withTimeout(orm.em.fork().getConnection().execute('select 1'), 2_000, 'database did not answer within 2 s');
      if (!migrationsApplied) {
        const pending = await pendingMigrations(orm);
        if (pending.length > 0) {
          return reply.status(503).send({ status: 'not_ready', reason: `${pending.length} pending migration(s): ${pending.join(', ')}` });
        }
        migrationsApplied = true; // migrations are never un-applied under a running server
      }
      return { status: 'ready' };
    } catch (error) {
      return reply.status(503).send({ status: 'not_ready', reason: `database unreachable: ${(error as Error).message}` });
    }
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
