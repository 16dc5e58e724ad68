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
 */
export class PreparingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const prepared = new Set<string>();
    const plain = this.query.bind(this) as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      const [text, values, callback] = args;
      if (typeof text === 'string' && text.startsWith(PREPARED_MARK) && Array.isArray(values) && callback === undefined) {
        const name = `ln_${createHash('sha1').update(text).digest('base64url')}`;
        if (prepared.has(name) || prepared.size < MAX_PER_CONNECTION) {
          prepared.add(name);
          return plain({ name, text, values });
        }
      }
      return plain(...args);
    }) as pg.Client['query'];
  }
}
