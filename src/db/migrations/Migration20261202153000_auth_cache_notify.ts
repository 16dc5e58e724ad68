import { Migration } from '@mikro-orm/migrations';

/*
 * API processes remember authenticated keys with their company's row (src/auth/key-cache.ts). Whatever changes a
 * company's row, or moves a key to another company or changes its secret, announces it on the app's NOTIFY channel
 * (delivered on commit only), so every process forgets what it remembers of those companies at once. Triggers
 * rather than publishes in the services, as for revocations: the guarantee must hold for every way a row can
 * change, an operator's SQL included. A deleted company deletes its keys, which the revocation trigger announces.
 * The payload has the shape of src/state/events.ts (a JSON array of events).
 */
export class Migration20261202153000_auth_cache_notify extends Migration {

  override name = 'Migration20261202153000_auth_cache_notify';

  override up(): void | Promise<void> {
    this.addSql(`create function "company_changed_notify"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('lead_nurture_realtime', json_build_array(json_build_object('topic', 'COMPANY_CHANGED', 'companyId', new.id))::text);
        return null;
      end
    $$;`);
    this.addSql(`create trigger "company_changed_notify" after update on "company"
      for each row when (old.* is distinct from new.*) execute function "company_changed_notify"();`);
    this.addSql(`create function "api_key_moved_notify"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('lead_nurture_realtime', json_build_array(
          json_build_object('topic', 'COMPANY_CHANGED', 'companyId', old.company_id),
          json_build_object('topic', 'COMPANY_CHANGED', 'companyId', new.company_id))::text);
        return null;
      end
    $$;`);
    this.addSql(`create trigger "api_key_moved_notify" after update of "company_id", "secret_hash" on "api_key"
      for each row when (old.company_id is distinct from new.company_id or old.secret_hash is distinct from new.secret_hash)
      execute function "api_key_moved_notify"();`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger "api_key_moved_notify" on "api_key";`);
    this.addSql(`drop function "api_key_moved_notify"();`);
    this.addSql(`drop trigger "company_changed_notify" on "company";`);
    this.addSql(`drop function "company_changed_notify"();`);
  }

}
