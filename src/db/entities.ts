import { ApiKey } from '../auth/api-key.entity.js';
import { Company } from '../companies/company.entity.js';

/** Every entity the ORM knows. Listed explicitly: no folder scanning, so tsc output and tsx behave alike. */
export const entities = [Company, ApiKey];
