import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { authenticate } from '../../auth/authenticate.js';
import { createApiKey } from '../../auth/api-key.service.js';
import { Company } from '../../model/company.entity.js';
import { createCompany } from '../../companies/company.service.js';
import type { Config } from '../../core/config.js';

export interface DemoTenant {
  companyId: string;
  companyName: string;
  apiKey: string;
}

const DEMO_NAME = 'Demo Company';

/**
 * Development only: a demo company and an API key, created on first start. The key is kept in
 * `.data/demo-tenant.json` (beside the embedded database) so every later start prints the same, working key.
 */
export async function seedDemoTenant(orm: MikroORM, config: Config): Promise<DemoTenant> {
  const file = join(config.dataDir, 'demo-tenant.json');
  const em = orm.em.fork();
  const saved = await readSaved(file);
  if (saved) {
    const auth = await authenticate(`Bearer ${saved.apiKey}`, em, config.operatorToken);
    if (auth.kind === 'company' && auth.companyId === saved.companyId) return saved;
  }

  const company =
    (saved && (await em.findOne(Company, { id: saved.companyId }))) ??
    (await createCompany({ em, now: new Date() }, { name: DEMO_NAME, fromAddress: config.ses.fromAddress, fromName: DEMO_NAME, timezone: 'UTC' }));
  const { secret } = await createApiKey({ em, now: new Date() }, { companyId: company.id, name: 'Development demo key' });
  const tenant: DemoTenant = { companyId: company.id, companyName: company.name, apiKey: secret };
  await writeFile(file, `${JSON.stringify(tenant, null, 2)}\n`, { mode: 0o600 });
  return tenant;
}

async function readSaved(file: string): Promise<DemoTenant | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<DemoTenant>;
    if (typeof parsed.companyId === 'string' && typeof parsed.apiKey === 'string' && typeof parsed.companyName === 'string') {
      return parsed as DemoTenant;
    }
  } catch {
    // first start, or an unreadable file: seed afresh
  }
  return undefined;
}
