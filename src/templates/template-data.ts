import type { Company } from '../model/company.entity.js';
import type { Lead } from '../model/lead.entity.js';
import type { TemplateData } from './templates.js';

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
