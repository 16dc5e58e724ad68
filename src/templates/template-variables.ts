import type { TemplateData } from './template-data.js';

export const LEAD_FIELDS = ['first_name', 'last_name', 'email', 'company_name', 'timezone', 'score'] as const;
export const COMPANY_FIELDS = ['name', 'from_address', 'from_name'] as const;
/** Top-level names usable bare and as legacy `{name}` placeholders. */
export const SHORTCUTS = ['first_name', 'last_name', 'email', 'company_name', 'unsubscribe_url'] as const;
/** Liquid's built-in properties, valid after any scalar (`first_name.size`). */
export const SCALAR_PROPERTIES = new Set(['size', 'first', 'last']);

/** The variables templates may use, for docs (e.g. the GraphQL schema description). */
export const TEMPLATE_VARIABLES: ReadonlyArray<{ name: string; description: string }> = Object.freeze([
  { name: 'lead.first_name', description: 'The lead\'s first name; may be empty, so prefer `{{ lead.first_name | default: "there" }}`.' },
  { name: 'lead.last_name', description: "The lead's last name; may be empty." },
  { name: 'lead.email', description: "The lead's email address." },
  { name: 'lead.company_name', description: 'The name of the company the lead works for; may be empty.' },
  { name: 'lead.timezone', description: 'The lead\'s IANA time zone (e.g. "Europe/Paris"); may be empty.' },
  { name: 'lead.score', description: "The lead's engagement score (a number), e.g. `{% if lead.score > 50 %}`." },
  { name: 'lead.attributes.<key>', description: 'A custom attribute of the lead; a missing attribute renders empty, so use `| default: "…"`.' },
  { name: 'company.name', description: "Your company's display name." },
  { name: 'company.from_address', description: 'The address emails are sent from.' },
  { name: 'company.from_name', description: 'The sender name emails are sent as; may be empty.' },
  { name: 'unsubscribe_url', description: "The lead's one-click unsubscribe link. If a body does not link to it, a footer with it is appended." },
  { name: 'first_name', description: 'Shortcut for lead.first_name; `{first_name}` also works.' },
  { name: 'last_name', description: 'Shortcut for lead.last_name; `{last_name}` also works.' },
  { name: 'email', description: 'Shortcut for lead.email; `{email}` also works.' },
  { name: 'company_name', description: "Shortcut for lead.company_name (the lead's company, not yours); `{company_name}` also works." },
]);

export function isShortcut(word: string): boolean {
  return (SHORTCUTS as readonly string[]).includes(word);
}

/** The Liquid scope of one email: the variables above, filled from the data. */
export function buildScope(data: TemplateData): Record<string, unknown> {
  const { lead, company } = data;
  const leadScope = {
    first_name: lead.firstName,
    last_name: lead.lastName,
    email: lead.email,
    company_name: lead.companyName,
    timezone: lead.timezone,
    score: lead.score,
    attributes: lead.attributes,
  };
  return {
    lead: leadScope,
    company: { name: company.name, from_address: company.fromAddress, from_name: company.fromName },
    unsubscribe_url: data.unsubscribeUrl,
    first_name: leadScope.first_name,
    last_name: leadScope.last_name,
    email: leadScope.email,
    company_name: leadScope.company_name,
  };
}
