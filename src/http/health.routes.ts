import type { MikroORM } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import { pendingMigrations } from '../db/orm.js';
import { readAccountState } from '../delivery/account.js';

/**
 * `GET /healthz`: the process is up (liveness). `GET /readyz`: it can serve (readiness): the database answers
 * within 2 s, every migration is applied, and email sending is not paused; 503 with the reason otherwise.
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
      const account = await readAccountState(orm.em.fork());
      if (account.pausedReason) return reply.status(503).send({ status: 'not_ready', reason: `email sending paused: ${account.pausedReason}` });
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
