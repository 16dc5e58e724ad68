import { Field, Int, ObjectType } from 'type-graphql';
import { Connection } from '../connection.js';
import { Lead } from '../../model/lead.entity.js';
import { EmailSequence } from '../../model/email-sequence.entity.js';
import { Enrollment } from '../../model/enrollment.entity.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';
import { listCost } from '../../model/query-cost.js';

export const SequenceConnection = Connection(EmailSequence, 'Sequence', "A page of the company's sequences, oldest first.");
export const SequenceEmailConnection = Connection(SequenceEmail, 'SequenceEmail', 'A page of emails.');

@ObjectType({ description: 'How many of a sequence’s emails are in each status.' })
export class EmailStatusCounts {
  @Field(() => Int, { description: 'Scheduled, not yet sent.' }) PENDING!: number;
  @Field(() => Int, { description: 'Being handed to SES.' }) SENDING!: number;
  @Field(() => Int, { description: 'Accepted by SES, no engagement yet.' }) SENT!: number;
  @Field(() => Int, { description: 'Opened, not clicked.' }) OPENED!: number;
  @Field(() => Int, { description: 'Clicked.' }) CLICKED!: number;
  @Field(() => Int, { description: 'Answered by the lead (a person, not an auto-reply).' }) REPLIED!: number;
  @Field(() => Int, { description: 'Bounced.' }) BOUNCED!: number;
  @Field(() => Int, { description: 'Failed.' }) FAILED!: number;
  @Field(() => Int, { description: 'Handed to SES with an unknown outcome; never re-sent by itself (see `stuckEmails`).' }) UNKNOWN!: number;
  @Field(() => Int, { description: 'Canceled.' }) CANCELED!: number;
}

@ObjectType({ description: 'Where a lead is in each of its sequences.' })
export class LeadSequenceStatus {
  @Field(() => Lead, { description: 'The lead.' })
  lead!: Lead;

  // Not capped by the data: a lead has one enrollment per sequence it entered. Costed at what a large account sees.
  @Field(() => [Enrollment], { description: 'Its enrollments, oldest first, each with its emails.', complexity: listCost(20) })
  enrollments!: Enrollment[];

  @Field(() => SequenceEmail, { nullable: true, description: 'The next email due across its active enrollments.' })
  nextEmail!: SequenceEmail | null;
}

@ObjectType({ description: 'A step rendered for one lead.' })
export class EmailPreview {
  @Field(() => String, { description: 'Subject line.' }) subject!: string;
  @Field(() => String, { description: 'HTML part.' }) html!: string;
  @Field(() => String, { description: 'Plain-text part.' }) text!: string;
}

@ObjectType({ description: 'A variable templates may use.' })
export class TemplateVariable {
  @Field(() => String, { description: 'How to write it, e.g. `lead.first_name`.' }) name!: string;
  @Field(() => String, { description: 'What it holds.' }) description!: string;
}
