import type { Company } from '../model/company.entity.js';
import type { Config } from '../core/config.js';
import type { Lead } from '../model/lead.entity.js';
import type { EmailSequence } from '../model/email-sequence.entity.js';
import { templateData } from '../templates/template-data.js';
import { renderEmail } from '../templates/render.js';
import type { RenderBudget } from '../templates/render-budget.js';
import { instrumentHtml } from '../tracking/links.js';
import { signToken } from '../tracking/tokens.js';
import { sesAddress, sesMailbox } from '../core/mailbox.js';
import type { OutgoingEmail } from './email-provider.js';
import { replyAddress } from './reply-address.js';

export interface EmailToRender {
  id: string;
  emailNumber: number;
  company: Company;
  lead: Lead;
  sequence: EmailSequence;
}

export const EMAIL_ID_HEADER = 'X-LN-Email-Id';

/** The one-click unsubscribe URL of an email (RFC 8058: a POST to it unsubscribes). */
export function unsubscribeUrl(config: Config, emailId: string): string {
  return `${config.publicUrl}/u/${signToken(config.trackingSecret.reveal(), { emailId, kind: 'unsubscribe' })}`;
}

/**
 * Renders a due email for its lead from the sequence's current templates, with tracked links, the open pixel,
 * the unsubscribe headers and correlation tags. `links` are the original URLs the click tokens point to.
 * Rendering runs in a render worker, booked against `budget` (the company's share of the batch).
 */
export async function buildEmail(config: Config, email: EmailToRender, budget?: RenderBudget): Promise<{ email: OutgoingEmail; links: string[] }> {
  const step = email.sequence.steps[email.emailNumber - 1];
  if (!step) throw new Error(`the sequence no longer has a step ${email.emailNumber}`);
  const unsubscribe = unsubscribeUrl(config, email.id);
  const rendered = await renderEmail(step, templateData(email.company, email.lead, unsubscribe), budget);
  const tracked = instrumentHtml(rendered.html, {
    emailId: email.id,
    publicUrl: config.publicUrl,
    secret: config.trackingSecret.reveal(),
    unsubscribeUrl: unsubscribe,
  });
  const { company } = email;
  const outgoing: OutgoingEmail = {
    // As SES takes them (core/mailbox.ts): encoded-words for names beyond ASCII, punycode domains. An address SES
    // cannot send (a UTF-8 local part stored before intake refused them) throws: that one email fails with the reason.
    from: sesMailbox(company.fromName, company.fromAddress),
    to: sesAddress(email.lead.email!),
    // With an inbound domain, replies come to us first (an opaque per-email address; we forward them to the company).
    replyTo: config.inbound.domain
      ? replyAddress(config.trackingSecret.reveal(), config.inbound.domain, email.id)
      : company.replyTo
        ? sesAddress(company.replyTo)
        : null,
    subject: rendered.subject,
    html: tracked.html,
    text: rendered.text,
    headers: [
      { name: 'List-Unsubscribe', value: `<${unsubscribe}>` },
      { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
      // The same id as the email_id tag, in the message itself: bounces and replies quote headers, not tags.
      { name: EMAIL_ID_HEADER, value: email.id },
    ],
    tags: { company_id: company.id, lead_id: email.lead.id, email_id: email.id },
  };
  return { email: outgoing, links: tracked.links };
}
