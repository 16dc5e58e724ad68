import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { ApiKeyResolver } from './auth/api-key.resolver.js';
import { authChecker } from './auth/auth-checker.js';
import { CompanyResolver } from './companies/company.resolver.js';
import { DeliveryResolver } from './delivery/delivery.resolver.js';
import { LeadResolver } from './leads/lead.resolver.js';
import { EnrollmentResolver } from './sequences/enrollment.resolver.js';
import { SequenceResolver } from './sequences/sequence.resolver.js';

export const resolvers = [CompanyResolver, ApiKeyResolver, LeadResolver, SequenceResolver, EnrollmentResolver, DeliveryResolver] as const;

export async function createSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    authChecker,
    // Inputs are checked with class-validator before resolvers run; failures become BAD_USER_INPUT naming the field.
    validate: { forbidUnknownValues: false, stopAtFirstError: false },
  });
}

/** The committed `schema.graphql`: sorted, so the file only changes when the API does. */
export function printSchemaFile(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
