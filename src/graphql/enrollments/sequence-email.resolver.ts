import { FieldResolver, Resolver, Root } from 'type-graphql';
import { Lead } from '../../model/lead.entity.js';
import { Enrollment } from '../../model/enrollment.entity.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';

/** Where an email belongs, loaded only when selected (e.g. by `emailStatusChanged` subscribers without a filter). */
@Resolver(() => SequenceEmail)
export class SequenceEmailResolver {
  @FieldResolver(() => Enrollment, { description: 'The enrollment the email belongs to.' })
  enrollment(@Root() email: SequenceEmail): Promise<Enrollment> {
    return email.enrollment.loadOrFail();
  }

  @FieldResolver(() => Lead, { description: 'The lead the email is for.' })
  lead(@Root() email: SequenceEmail): Promise<Lead> {
    return email.lead.loadOrFail();
  }
}
