/**
 * What the soak and the fault soak share: their tenants, and the drain of the in-process SES emulator.
 */
import { createRequire } from 'node:module';
import { EMAIL_ID_HEADER } from '../src/delivery/message.js';
import type { SentEmail } from './soak-load.js';
import { gql } from './support.js';

/** `count` companies named "<name> <i>", each with an API key. */
export async function createCompanies(url: string, operatorToken: string, count: number, name: string): Promise<Array<{ id: string; apiKey: string }>> {
  const operator = `Bearer ${operatorToken}`;
  const companies: Array<{ id: string; apiKey: string }> = [];
  for (let i = 1; i <= count; i += 1) {
    const { createCompany } = await gql<{ createCompany: { id: string } }>(
      url,
      operator,
      `mutation($i: CreateCompanyInput!) { createCompany(input: $i) { id } }`,
      { i: { name: `${name} ${i}`, fromAddress: `hello@${name.toLowerCase()}${i}.example.com`, timezone: 'UTC' } },
    );
    const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
      url,
      operator,
      `mutation($c: ID!) { createApiKey(companyId: $c, name: "soak") { secret } }`,
      { c: createCompany.id },
    );
    companies.push({ id: createCompany.id, apiKey: createApiKey.secret });
  }
  return companies;
}

/**
 * The emulator keeps every email it accepts in memory, in this process: over ten minutes that would read as a
 * server leak. So every second the bench takes what it holds and empties it, in one synchronous step (through the
 * emulator's own store module, the same instance its server uses: `GET /store` then `POST /clear-store` could drop
 * an email accepted in between), and hands each email's id and tracking URLs to the load process, which keeps the
 * per-email counts. What the emulator holds between two drains is about one second of mail.
 */
const emulatorStore = createRequire(import.meta.url)('aws-ses-v2-local/dist/store.js') as {
  getStoreReadonly(): { emails: Array<{ headers?: Array<{ name: string; value: string }>; body: { html?: string } }> };
  clearStore(): void;
};

export function drainEmulator(): SentEmail[] {
  const { emails } = emulatorStore.getStoreReadonly();
  emulatorStore.clearStore();
  return emails.map((email) => ({
    emailId: email.headers?.find((h) => h.name.toLowerCase() === EMAIL_ID_HEADER.toLowerCase())?.value ?? 'no email id header',
    open: /"(https?:\/\/[^"]+\/t\/o\/[^"]+\.gif)"/.exec(email.body.html ?? '')?.[1],
    click: /"(https?:\/\/[^"]+\/t\/c\/[^"]+)"/.exec(email.body.html ?? '')?.[1],
  }));
}
