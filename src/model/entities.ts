import { ApiKey } from './api-key.entity.js';
import { Company } from './company.entity.js';
import { SendBudget } from './send-budget.entity.js';
import { Activity } from './activity.entity.js';
import { Lead } from './lead.entity.js';
import { Suppression } from './suppression.entity.js';
import { EmailEvent } from './email-event.entity.js';
import { EmailSequence } from './email-sequence.entity.js';
import { Enrollment } from './enrollment.entity.js';
import { SequenceEmail } from './sequence-email.entity.js';
import { MutationRate } from './mutation-rate.entity.js';
import { ApiProcess } from './api-process.entity.js';
import { ApiKeySocket } from './api-key-socket.entity.js';
import { CompanySendStats, EmailStats, EmailStatsDaily } from './email-stats.entity.js';

/** Every entity the ORM knows. Listed explicitly: no folder scanning, so tsc output and tsx behave alike. */
export const entities = [
  Company,
  ApiKey,
  Lead,
  Activity,
  Suppression,
  EmailSequence,
  Enrollment,
  SequenceEmail,
  SendBudget,
  EmailEvent,
  MutationRate,
  ApiProcess,
  ApiKeySocket,
  EmailStats,
  EmailStatsDaily,
  CompanySendStats,
];
