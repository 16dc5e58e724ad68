import { Migration } from '@mikro-orm/migrations';

/*
 * A key that stops authenticating (revoked, or deleted: by hand, or with its company) is announced on the app's
 * NOTIFY channel, so every process closes the key's open WebSockets. A trigger rather than a publish in the service:
 * the guarantee must hold for every way a key can go, SQL by an operator and cascades included. The payload has the
 * shape of src/state/events.ts (a JSON array of events); pg_notify in the trigger is delivered on commit only.
 */
export class Migration20261202063100_api_key_revocation_notify extends Migration {

  override name = 'Migration20261202063100_api_key_revocation_notify';

  override up(): void | Promise<void> {
    this.addSql(`create function "api_key_revoked_notify"() returns trigger language plpgsql as $$
      begin
        perform pg_notify('lead_nurture_realtime', json_build_array(json_build_object(
          'topic', 'API_KEY_REVOKED', 'companyId', old.company_id, 'apiKeyId', old.id))::text);
        return null;
      end
    $$;`);
    this.addSql(`create trigger "api_key_revoked_notify" after update of "revoked_at" on "api_key"
      for each row when (old.revoked_at is null and new.revoked_at is not null) execute function "api_key_revoked_notify"();`);
    this.addSql(`create trigger "api_key_deleted_notify" after delete on "api_key"
      for each row when (old.revoked_at is null) execute function "api_key_revoked_notify"();`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger "api_key_deleted_notify" on "api_key";`);
    this.addSql(`drop trigger "api_key_revoked_notify" on "api_key";`);
    this.addSql(`drop function "api_key_revoked_notify"();`);
  }

}
