import { ApiKey } from '../auth/api-key.entity.js';
import { Company } from '../companies/company.entity.js';
import { SendBudget } from '../delivery/send-budget.entity.js';
import { Activity } from '../leads/activity.entity.js';
import { Lead } from '../leads/lead.entity.js';
import { Suppression } from '../leads/suppression.entity.js';
import { EmailEvent } from '../tracking/email-event.entity.js';
import { EmailSequence } from '../sequences/email-sequence.entity.js';
import { Enrollment } from '../sequences/enrollment.entity.js';
import { SequenceEmail } from '../sequences/sequence-email.entity.js';

/** Every entity the ORM knows. Listed explicitly: no folder scanning, so tsc output and tsx behave alike. */
export const entities = [Company, ApiKey, Lead, Activity, Suppression, EmailSequence, Enrollment, SequenceEmail, SendBudget, EmailEvent];
