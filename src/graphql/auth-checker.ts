import type { AuthChecker } from 'type-graphql';
import type { Context } from './context.js';
import { ForbiddenError, UnauthenticatedError } from '../core/errors.js';
import { AuthErrorReason } from '../core/error-reasons.js';

/** `@Authorized()` needs a company API key; `@Authorized(Role.Operator)` needs the operator token. */
export enum Role {
  Operator = 'OPERATOR',
}

export const authChecker: AuthChecker<Context> = ({ context }, roles) => {
  const { auth } = context;
  if (auth.kind === 'anonymous') {
    throw new UnauthenticatedError(AuthErrorReason.API_KEY_MISSING, 'Send an API key as "Authorization: Bearer <api key>"');
  }
  if (auth.kind === 'invalid') throw auth.error;
  const operatorOnly = roles.includes(Role.Operator);
  if (operatorOnly && auth.kind !== 'operator') {
    throw new ForbiddenError(AuthErrorReason.OPERATOR_ONLY, 'Only the operator token may do this');
  }
  if (!operatorOnly && auth.kind !== 'company') {
    throw new ForbiddenError(AuthErrorReason.API_KEY_REQUIRED, 'This operation needs a company API key');
  }
  return true;
};
