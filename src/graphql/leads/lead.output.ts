import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Connection } from '../connection.js';
import { Activity } from '../../model/activity.entity.js';
import { Lead } from '../../model/lead.entity.js';
import { listCost } from '../../model/query-cost.js';

export const LeadConnection = Connection(Lead, 'Lead', 'A page of leads.');
export const ActivityConnection = Connection(Activity, 'Activity', 'A page of a lead timeline, newest first.');

export enum ImportRowStatus {
  CREATED = 'CREATED',
  DUPLICATE = 'DUPLICATE',
  INVALID = 'INVALID',
}
registerEnumType(ImportRowStatus, {
  name: 'ImportRowStatus',
  description: 'What happened to one row of `importLeads`.',
  valuesConfig: {
    CREATED: { description: 'Created (and enrolled like `createLead`).' },
    DUPLICATE: { description: 'Not created: the address already belongs to a lead of the company, or appears earlier in the import.' },
    INVALID: { description: 'Not created: see `errors`.' },
  },
});

@ObjectType({ description: 'A problem with one input field.' })
export class FieldError {
  @Field(() => String, { description: 'Path of the field, e.g. `inputs.41.email`.' })
  field!: string;

  @Field(() => String, { description: 'What is wrong.' })
  message!: string;
}

@ObjectType({ description: 'The result of one row of `importLeads`.' })
export class ImportLeadRow {
  @Field(() => Int, { description: 'Position of the row in `inputs`, from 0.' })
  index!: number;

  @Field(() => ImportRowStatus, { description: 'What happened to it.' })
  status!: ImportRowStatus;

  @Field(() => ID, { nullable: true, description: 'The new lead, when CREATED.' })
  leadId!: string | null;

  @Field(() => String, { nullable: true, description: 'The normalised address, when there is one.' })
  email!: string | null;

  // Counted once, as `rows`: the answer about the request's own input grows with the request, not with what it reaches.
  @Field(() => [FieldError], { description: 'Why the row is INVALID; empty otherwise.', complexity: listCost(1) })
  errors!: FieldError[];
}

@ObjectType({ description: 'The outcome of `importLeads`.' })
export class ImportLeadsResult {
  @Field(() => Int, { description: 'Rows created.' })
  created!: number;

  @Field(() => Int, { description: 'Rows skipped as duplicates.' })
  duplicates!: number;

  @Field(() => Int, { description: 'Rows rejected as invalid.' })
  invalid!: number;

  // importLeads' answer about each of its own input rows, built in memory: it grows with the request itself (at
  // most MAX_IMPORT_ROWS rows within MAX_REQUEST_BYTES), not with what the request reaches, so it counts once.
  @Field(() => [ImportLeadRow], { description: 'One result per input row, in input order.', complexity: listCost(1) })
  rows!: ImportLeadRow[];
}

@ObjectType({ description: 'The outcome of `deleteLead`.' })
export class DeleteLeadResult {
  @Field(() => ID, { description: 'The deleted lead.' })
  id!: string;

  @Field(() => Int, { description: 'Pending emails canceled with it.' })
  canceledEmails!: number;
}

@ObjectType({ description: 'A change of a lead score.' })
export class ScoreChangeResult {
  @Field(() => Lead, { description: 'The lead, with its new score.' })
  lead!: Lead;

  @Field(() => Int, { description: 'Score before.' })
  previousScore!: number;

  @Field(() => Int, { description: 'Score after (0 to 100).' })
  score!: number;

  @Field(() => Int, { description: 'Change applied (capped at 0 and 100).' })
  delta!: number;
}
