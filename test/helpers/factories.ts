import type { TestApp } from './app.js';
import { ok } from './graphql.js';

export interface Tenant {
  companyId: string;
  apiKeyId: string;
  apiKey: string;
}

let counter = 0;

/** A new company with an API key, created through the operator API as a real operator would. */
export async function createTenant(app: TestApp, overrides: { name?: string; timezone?: string } = {}): Promise<Tenant> {
  counter += 1;
  const { createCompany } = ok(
    await app.operator<{ createCompany: { id: string } }>(`mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }`, {
      input: { name: overrides.name ?? `Company ${counter}`, fromAddress: `team${counter}@example.com`, timezone: overrides.timezone ?? 'UTC' },
    }),
  );
  const { createApiKey } = ok(
    await app.operator<{ createApiKey: { secret: string; apiKey: { id: string } } }>(
      `mutation($companyId: ID!) { createApiKey(companyId: $companyId, name: "tests") { secret apiKey { id } } }`,
      { companyId: createCompany.id },
    ),
  );
  return { companyId: createCompany.id, apiKeyId: createApiKey.apiKey.id, apiKey: createApiKey.secret };
}
