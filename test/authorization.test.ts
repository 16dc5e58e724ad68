import type { GraphQLField, GraphQLFieldResolver, GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Auth } from '../src/auth/authenticate.js';
import { UnauthenticatedError } from '../src/core/errors.js';
import { AuthErrorReason } from '../src/core/error-reasons.js';
import type { Context } from '../src/graphql/context.js';
import { createSchema } from '../src/graphql/schema.js';

/*
 * Every root field of the real schema refuses a caller without the right credentials, before its own resolver
 * runs: a field whose `@Authorized` was forgotten, or whose guard no longer wraps it, fails here. The context holds
 * nothing but `auth`, so a resolver that ran would fail with a TypeError instead of the auth error.
 */
/** Root fields anyone may call: static facts with no company data. */
const PUBLIC = new Set(['Query.templateVariables']);
const OPERATOR_ONLY = new Set(['Mutation.createApiKey', 'Mutation.revokeApiKey', 'Mutation.createCompany', 'Mutation.resumeCompanySending']);

let schema: GraphQLSchema;
const roots: { name: string; field: GraphQLField<unknown, Context> }[] = [];

beforeAll(async () => {
  schema = await createSchema();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(type!.getFields())) roots.push({ name: `${type!.name}.${field.name}`, field });
  }
});

function call(resolve: GraphQLFieldResolver<unknown, Context> | undefined, auth: Auth): unknown {
  try {
    return resolve!(undefined, {}, { auth } as Context, {} as GraphQLResolveInfo);
  } catch (error) {
    return error;
  }
}

const anonymous: Auth = { kind: 'anonymous' };
const invalid: Auth = { kind: 'invalid', error: new UnauthenticatedError(AuthErrorReason.API_KEY_REVOKED, 'This API key was revoked') };
const operator: Auth = { kind: 'operator' };
const company: Auth = { kind: 'company', companyId: '00000000-0000-4000-8000-000000000000', apiKeyId: '00000000-0000-4000-8000-000000000001' };

describe('authorization of every root field', () => {
  it('lists the public fields and the operator-only ones exactly', () => {
    expect(roots.length).toBeGreaterThan(30);
    for (const name of [...PUBLIC, ...OPERATOR_ONLY]) expect(roots.map((r) => r.name)).toContain(name);
  });

  it('without credentials, or with a bad key: UNAUTHENTICATED, for resolve and subscribe alike', () => {
    for (const { name, field } of roots.filter((r) => !PUBLIC.has(r.name))) {
      for (const resolve of [field.resolve, field.subscribe].filter(Boolean)) {
        expect(call(resolve, anonymous), name).toMatchObject({ kind: 'unauthenticated', reason: 'API_KEY_MISSING' });
        expect(call(resolve, invalid), name).toBe(invalid.error);
      }
    }
  });

  it('the operator token is refused on company fields, a company key on operator fields', () => {
    for (const { name, field } of roots.filter((r) => !PUBLIC.has(r.name))) {
      for (const resolve of [field.resolve, field.subscribe].filter(Boolean)) {
        if (OPERATOR_ONLY.has(name)) {
          expect(call(resolve, company), name).toMatchObject({ kind: 'forbidden', reason: 'OPERATOR_ONLY' });
        } else {
          expect(call(resolve, operator), name).toMatchObject({ kind: 'forbidden', reason: 'API_KEY_REQUIRED' });
        }
      }
    }
  });

  it('a public field answers without credentials', () => {
    const field = roots.find((r) => r.name === 'Query.templateVariables')!.field;
    expect(call(field.resolve, anonymous)).toEqual(expect.any(Array));
  });
});
