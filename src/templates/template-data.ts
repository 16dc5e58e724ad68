import type { Company } from '../model/company.entity.js';
import type { Lead } from '../model/lead.entity.js';

/** The lead fields a template can read, as the caller holds them (camelCase). */
export interface TemplateLead {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  companyName: string | null;
  timezone: string | null;
  score: number;
  attributes: Record<string, unknown>;
}

/** The sending company's fields a template can read. */
export interface TemplateCompany {
  name: string;
  fromAddress: string;
  fromName: string | null;
  timezone: string;
}

/** Everything one email is rendered from. */
export interface TemplateData {
  lead: TemplateLead;
  company: TemplateCompany;
  unsubscribeUrl: string;
}

/** What a template sees of a lead and its company. */
export function templateData(company: Company, lead: Lead, unsubscribeUrl: string): TemplateData {
  return {
    lead: {
      email: lead.email,
      firstName: lead.firstName,
      lastName: lead.lastName,
      companyName: lead.companyName,
      timezone: lead.timezone,
      score: lead.score,
      attributes: lead.attributes,
    },
    company: { name: company.name, fromAddress: company.fromAddress, fromName: company.fromName, timezone: company.timezone },
    unsubscribeUrl,
  };
}
