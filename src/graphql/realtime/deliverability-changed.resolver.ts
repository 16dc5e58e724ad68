import { Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { companyIdOf, type Context } from '../context.js';
import { Topic, type DeliverabilityChangedEvent } from '../../state/events.js';
import { DeliverabilityChange } from '../deliverability/deliverability.output.js';
import type { SubscriptionScope } from './pubsub.js';

@Resolver()
export class DeliverabilityChangedResolver {
  @Authorized()
  @Subscription(() => DeliverabilityChange, {
    description:
      "The calling company's deliverability state moved (src/delivery/guard/): a warning, a pause of its sending, a return to OK, or the operator's resume. Only the company's own changes.",
    topics: Topic.DeliverabilityChanged,
    // Routed by the company of the connection's API key, like every subscription: another company's change never arrives.
    topicId: ({ context }: SubscribeResolverData<unknown, object, Context>): SubscriptionScope => {
      const companyId = companyIdOf(context);
      return { companyId, accept: (event) => event.companyId === companyId };
    },
  })
  deliverabilityChanged(@Root() event: DeliverabilityChangedEvent): DeliverabilityChange {
    // The event carries everything selected (no database read per event).
    return { state: event.state, previousState: event.previousState, reason: event.reason, at: new Date(event.at), windows: event.windows };
  }
}
