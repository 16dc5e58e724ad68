import { Field, InputType, Int } from 'type-graphql';
import { SequenceTrigger } from '../../model/sequence.enums.js';
import { WindowTimeZone, type SendWindow } from '../../model/sequence-step.js';

@InputType({ description: 'One email of a sequence.' })
export class SequenceStepInput {
  @Field(() => Int, { description: 'Whole days after enrollment, 0 to 365 (local calendar days).' })
  delayDays!: number;

  @Field(() => Int, { defaultValue: 0, description: 'Hours added after the days, 0 to 23.' })
  delayHours: number = 0;

  @Field(() => String, { description: 'Subject template (Liquid), up to 500 characters. Variables: see `templateVariables`.' })
  subject!: string;

  @Field(() => String, {
    description: 'Body template (Liquid): MJML (`<mjml>…`) or an HTML fragment placed in the default layout; up to 100,000 characters.',
  })
  body!: string;
}

@InputType({ description: 'Local days and hours in which emails go out.' })
export class SendWindowInput implements SendWindow {
  @Field(() => [Int], { description: 'ISO weekdays allowed: 1 = Monday … 7 = Sunday.' })
  weekdays!: number[];

  @Field(() => String, { description: 'Opening time "HH:MM" (inclusive).' })
  startTime!: string;

  @Field(() => String, { description: 'Closing time "HH:MM" (exclusive), after startTime.' })
  endTime!: string;

  @Field(() => WindowTimeZone, { defaultValue: WindowTimeZone.LEAD, description: 'Whose time zone the hours are in.' })
  timeZone: WindowTimeZone = WindowTimeZone.LEAD;
}

@InputType({ description: 'A new sequence.' })
export class CreateSequenceInput {
  @Field(() => String, { description: 'Name, 1 to 200 characters.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'What it is for, up to 2,000 characters.' })
  description?: string | null;

  @Field(() => Boolean, { defaultValue: true, description: 'Whether it enrolls leads.' })
  active: boolean = true;

  @Field(() => SequenceTrigger, { defaultValue: SequenceTrigger.MANUAL, description: 'What enrolls leads.' })
  trigger: SequenceTrigger = SequenceTrigger.MANUAL;

  @Field(() => Int, { nullable: true, description: 'For SCORE_THRESHOLD only: 1 to 100.' })
  scoreThreshold?: number | null;

  @Field(() => [SequenceStepInput], { description: '1 to 50 steps, in order; each at or after the previous one.' })
  steps!: SequenceStepInput[];

  @Field(() => SendWindowInput, { nullable: true, description: 'Local sending hours; any time when omitted.' })
  sendWindow?: SendWindowInput | null;

  @Field(() => Boolean, { defaultValue: false, description: "Make it the company's default sequence (used by `startSequence` without a sequence)." })
  isDefault: boolean = false;

  @Field(() => Boolean, { defaultValue: true, description: "Whether a lead's reply (not an auto-reply) stops its enrollment (reason REPLIED)." })
  stopOnReply: boolean = true;
}

@InputType({
  description:
    'Changes to a sequence; omitted fields stay. Edits apply to emails not yet sent: pending emails are rescheduled ' +
    'from each enrollment start, emails of removed steps are canceled, added steps are scheduled for active enrollments, ' +
    'and subjects and bodies are rendered from the current templates when each email is sent.',
})
export class UpdateSequenceInput {
  @Field(() => String, { nullable: true, description: 'Name, 1 to 200 characters.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'What it is for.' })
  description?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether it enrolls leads.' })
  active?: boolean | null;

  @Field(() => SequenceTrigger, { nullable: true, description: 'What enrolls leads.' })
  trigger?: SequenceTrigger | null;

  @Field(() => Int, { nullable: true, description: 'For SCORE_THRESHOLD only: 1 to 100.' })
  scoreThreshold?: number | null;

  @Field(() => [SequenceStepInput], { nullable: true, description: 'All steps, replacing the current ones.' })
  steps?: SequenceStepInput[] | null;

  @Field(() => SendWindowInput, { nullable: true, description: 'Local sending hours; null removes the window.' })
  sendWindow?: SendWindowInput | null;

  @Field(() => Boolean, { nullable: true, description: "Make it the company's default sequence." })
  isDefault?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Whether a lead's reply (not an auto-reply) stops its enrollment (reason REPLIED)." })
  stopOnReply?: boolean | null;
}
