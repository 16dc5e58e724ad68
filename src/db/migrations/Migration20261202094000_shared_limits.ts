import { Migration } from '@mikro-orm/migrations';

/*
 * Limits that hold for the whole deployment rather than per API process (src/graphql/limits/token-buckets.ts,
 * src/graphql/socket-slots.ts):
 * - `mutation_rate`: one GCRA row per rate-limited caller. `tat` is the theoretical arrival time: the bucket is full
 *   once it is past, so a past row may be deleted at any moment without changing any answer. `used_at` is the latest
 *   time the bucket was used at: its time never runs backwards.
 * - `api_process` and `api_key_socket`: each API process registers itself with a heartbeat, and each WebSocket it
 *   admitted is a row of it. Only the sockets of processes with a fresh heartbeat count, so a process that died
 *   without stopping holds no place once its heartbeat is stale; deleting the process row deletes its sockets.
 *   `admit_api_key_socket` admits a socket in one round trip: under a per-key advisory lock, then counting in a
 *   statement of its own (in a volatile function each statement takes a new snapshot), so the count sees every
 *   admission committed before the lock was granted and two processes cannot both take a key's last place.
 */
export class Migration20261202094000_shared_limits extends Migration {

  override name = 'Migration20261202094000_shared_limits';

  override up(): void | Promise<void> {
    this.addSql(`create table "mutation_rate" ("key" text not null, "tat" timestamptz not null, "used_at" timestamptz not null, "taken" boolean not null, primary key ("key"));`);
    this.addSql(`create table "api_process" ("id" uuid not null, "heartbeat_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create table "api_key_socket" ("id" uuid not null, "process_id" uuid not null, "api_key_id" uuid not null, primary key ("id"));`);
    this.addSql(`create index "api_key_socket_process_id_index" on "api_key_socket" ("process_id");`);
    this.addSql(`create index "api_key_socket_api_key_id_index" on "api_key_socket" ("api_key_id");`);
    this.addSql(`alter table "api_key_socket" add constraint "api_key_socket_process_id_foreign" foreign key ("process_id") references "api_process" ("id") on delete cascade;`);
    this.addSql(`create function "admit_api_key_socket"(socket uuid, process uuid, key uuid, max_sockets integer, lock_class integer, expiry interval)
      returns boolean language plpgsql volatile as $$
      begin
        perform pg_advisory_xact_lock(lock_class, hashtext(key::text));
        insert into api_key_socket (id, process_id, api_key_id)
          select socket, process, key
          where (select count(*) from api_key_socket s join api_process p on p.id = s.process_id
                 where s.api_key_id = key and p.heartbeat_at > clock_timestamp() - expiry) < max_sockets;
        return found;
      end
    $$;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop function "admit_api_key_socket"(uuid, uuid, uuid, integer, integer, interval);`);
    this.addSql(`drop table "api_key_socket";`);
    this.addSql(`drop table "api_process";`);
    this.addSql(`drop table "mutation_rate";`);
  }

}
