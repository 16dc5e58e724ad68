// The committed migrations, oldest first. `npm run migration:create` appends to this list.
import { Migration20261124031012 } from './Migration20261124031012.js';
import { Migration20261124032021_leads_sequences } from './Migration20261124032021_leads_sequences.js';
import { Migration20261124033454_delivery } from './Migration20261124033454_delivery.js';
import { Migration20261124035947_tracking } from './Migration20261124035947_tracking.js';
import { Migration20261124040105_email_links } from './Migration20261124040105_email_links.js';
import { Migration20261124040430_ses_events } from './Migration20261124040430_ses_events.js';
import { Migration20261124060306_lead_emails } from './Migration20261124060306_lead_emails.js';
import { Migration20261124060325_paused_emails } from './Migration20261124060325_paused_emails.js';
import { Migration20261124062128_drop_redundant_foreign_keys } from './Migration20261124062128_drop_redundant_foreign_keys.js';
import { Migration20261202060300_unknown_email_status } from './Migration20261202060300_unknown_email_status.js';
import { Migration20261202063000_email_to_address } from './Migration20261202063000_email_to_address.js';
import { Migration20261202063100_api_key_revocation_notify } from './Migration20261202063100_api_key_revocation_notify.js';
import { Migration20261202091000_send_backoff } from './Migration20261202091000_send_backoff.js';
import { Migration20261202094000_shared_limits } from './Migration20261202094000_shared_limits.js';
import { Migration20261202090000_claim_fencing } from './Migration20261202090000_claim_fencing.js';
import { Migration20261202092000_enrollment_paused_index } from './Migration20261202092000_enrollment_paused_index.js';
import { Migration20261202150000_email_stats } from './Migration20261202150000_email_stats.js';
import { Migration20261202152000_replies } from './Migration20261202152000_replies.js';
import { Migration20261202151000_deliverability_guard } from './Migration20261202151000_deliverability_guard.js';
import { Migration20261202153000_auth_cache_notify } from './Migration20261202153000_auth_cache_notify.js';

export const migrations = [
  { name: 'Migration20261124031012', class: Migration20261124031012 },
  { name: 'Migration20261124032021_leads_sequences', class: Migration20261124032021_leads_sequences },
  { name: 'Migration20261124033454_delivery', class: Migration20261124033454_delivery },
  { name: 'Migration20261124035947_tracking', class: Migration20261124035947_tracking },
  { name: 'Migration20261124040105_email_links', class: Migration20261124040105_email_links },
  { name: 'Migration20261124040430_ses_events', class: Migration20261124040430_ses_events },
  { name: 'Migration20261124060306_lead_emails', class: Migration20261124060306_lead_emails },
  { name: 'Migration20261124060325_paused_emails', class: Migration20261124060325_paused_emails },
  { name: 'Migration20261124062128_drop_redundant_foreign_keys', class: Migration20261124062128_drop_redundant_foreign_keys },
  { name: 'Migration20261202060300_unknown_email_status', class: Migration20261202060300_unknown_email_status },
  { name: 'Migration20261202063000_email_to_address', class: Migration20261202063000_email_to_address },
  { name: 'Migration20261202063100_api_key_revocation_notify', class: Migration20261202063100_api_key_revocation_notify },
  { name: 'Migration20261202091000_send_backoff', class: Migration20261202091000_send_backoff },
  { name: 'Migration20261202094000_shared_limits', class: Migration20261202094000_shared_limits },
  { name: 'Migration20261202090000_claim_fencing', class: Migration20261202090000_claim_fencing },
  { name: 'Migration20261202092000_enrollment_paused_index', class: Migration20261202092000_enrollment_paused_index },
  { name: 'Migration20261202150000_email_stats', class: Migration20261202150000_email_stats },
  { name: 'Migration20261202151000_deliverability_guard', class: Migration20261202151000_deliverability_guard },
  { name: 'Migration20261202152000_replies', class: Migration20261202152000_replies },
  { name: 'Migration20261202153000_auth_cache_notify', class: Migration20261202153000_auth_cache_notify },
];
