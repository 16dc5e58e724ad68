import { createHash } from 'node:crypto';
import pg from 'pg';

/** The comment that marks a statement for preparing; `prepared()` in sql.ts adds it. */
export const PREPARED_MARK = '/* prepared */';
/** Statements prepared per connection at most: each holds a plan in its PostgreSQL backend. */
const MAX_PER_CONNECTION = 64;

/**
 * A `pg` client that runs statements marked with PREPARED_MARK as named prepared statements: PostgreSQL parses
 * and plans each once per connection instead of on every call. Planning the intake statement (a dozen CTEs)
 * cost PostgreSQL more than executing it. Only marked statements are prepared: their text must not vary with
 * the data (rows travel as one JSON or array parameter), and a generic plan must suit every parameter value.
 *
 * A prepared statement outlives schema changes: after a migration changes a table it reads, PostgreSQL re-plans
 * it, but refuses one whose result columns changed type ("cached plan must not change result type"); and a
 * statement can vanish under the client (`DEALLOCATE ALL`, `DISCARD ALL`). Either way the statement is replaced
 * on this connection, and the call is run again once when that is safe (see `healsByReparse`).
 */
export class PreparingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    /** Statement name on this connection, by text. A name is never reused for another plan of the same text. */
    const names = new Map<string, string>();
    /** Replaced statements still holding a plan in the backend, to deallocate once outside a transaction. */
    const replaced: string[] = [];
    let generation = 1;
    const plain = this.query.bind(this) as (...args: unknown[]) => Promise<pg.QueryResult>;

    // Queued at once, ahead of whatever the caller sends next. Only ever called outside a transaction block: a
    // statement that fails there costs nothing.
    const deallocateReplaced = () => Promise.all(replaced.splice(0).map((name) => plain(`DEALLOCATE ${pg.escapeIdentifier(name)}`).catch(() => undefined)));

    const run = async (text: string, values: unknown[], name: string, retried: boolean): Promise<pg.QueryResult> => {
      try {
        return await plain({ name, text, values });
      } catch (error) {
        const heal = healsByReparse(error);
        if (!heal) throw error;
        // A fresh name makes `pg` parse the text again; the old plan, if the backend still has one, goes.
        const fresh = `${name.replace(/~\d+$/, '')}~${generation++}`;
        names.set(text, fresh);
        if (heal === Heal.REPLACE) replaced.push(name);
        // Outside a transaction block ('I' once the failed statement's implicit transaction ended) the call can
        // run again. Inside one, the transaction is aborted: the caller's own error handling decides.
        if (retried || this.getTransactionStatus() !== 'I') throw error;
        await deallocateReplaced();
        return run(text, values, fresh, true);
      }
    };

    this.query = ((...args: unknown[]) => {
      const [text, values, callback] = args;
      if (typeof text === 'string' && text.startsWith(PREPARED_MARK) && Array.isArray(values) && callback === undefined) {
        const name =
          names.get(text) ?? (names.size + replaced.length < MAX_PER_CONNECTION ? `ln_${createHash('sha1').update(text).digest('base64url')}` : undefined);
        if (name !== undefined) {
          names.set(text, name);
          // Plans replaced inside a transaction block go at the next call outside one.
          if (replaced.length > 0 && this.getTransactionStatus() === 'I') void deallocateReplaced();
          return run(text, values, name, false);
        }
      }
      return plain(...args);
    }) as pg.Client['query'];
  }
}

enum Heal {
  /** The statement exists but can never run again: deallocate it and prepare the text anew. */
  REPLACE = 'replace',
  /** The statement is gone from the backend: prepare the text anew. */
  REPREPARE = 'reprepare',
}

/**
 * Whether a failed prepared statement heals by preparing its text again, and how. Both errors are raised while
 * binding, before anything executes: PostgreSQL revalidates the cached plan in GetCachedPlan (plancache.c,
 * RevalidateCachedQuery, reached from exec_bind_message) and looks the statement up in exec_bind_message itself.
 * So running the call again cannot apply it twice. The routine, not the message, identifies the first error:
 * messages are translated, and 0A000 (feature_not_supported) has other causes.
 */
function healsByReparse(error: unknown): Heal | undefined {
  if (!(error instanceof pg.DatabaseError)) return undefined;
  if (error.code === '0A000' && error.routine === 'RevalidateCachedQuery') return Heal.REPLACE;
  if (error.code === '26000') return Heal.REPREPARE;
  return undefined;
}
