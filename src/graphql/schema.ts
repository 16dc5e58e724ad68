import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { ApiKeyResolver } from './auth/api-key.resolver.js';
import { authorizeFields } from './authorization.js';
import { assertEveryInputChecked, validateInput } from './input/validate-input.js';
import { CompanyResolver } from './companies/company.resolver.js';
import { DeliveryResolver } from './delivery/delivery.resolver.js';
import { TrackingResolver } from './tracking/tracking.resolver.js';
import { LeadResolver } from './leads/lead.resolver.js';
import { RealtimePubSub } from './realtime/pubsub.js';
import { LeadScoreChangeResolver, SubscriptionResolver } from './realtime/subscription.resolver.js';
import { EnrollmentResolver } from './enrollments/enrollment.resolver.js';
import { SequenceEmailResolver } from './enrollments/sequence-email.resolver.js';
import { SequenceResolver } from './sequences/sequence.resolver.js';
import { DeliverabilityResolver } from './deliverability/deliverability.resolver.js';
import { DeliverabilityChangedResolver } from './realtime/deliverability-changed.resolver.js';
import { AnalyticsResolver } from './analytics/analytics.resolver.js';

export const resolvers = [
  CompanyResolver,
  ApiKeyResolver,
  LeadResolver,
  SequenceResolver,
  EnrollmentResolver,
  DeliveryResolver,
  TrackingResolver,
  SequenceEmailResolver,
  SubscriptionResolver,
  LeadScoreChangeResolver,
  DeliverabilityResolver,
  DeliverabilityChangedResolver,
  AnalyticsResolver,
] as const;

/** The app's schema; without a PubSub (schema emit, tests) subscriptions use an in-process one. */
export async function createSchema(pubSub: PubSub = new RealtimePubSub()): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    pubSub,
    // The one validation of arguments, before any resolver runs: failures are BAD_USER_INPUT naming the field.
    validateFn: validateInput,
  });
  assertEveryInputChecked(schema);
  authorizeFields(schema);
  return schema;
}

/** The committed `schema.graphql`: sorted, so the file only changes when the API does. */
export function printSchemaFile(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
