import type { FieldProblem } from '../core/errors.js';
import type { CreateApiKeyArgs } from './dto/create-api-key.args.js';

/** Problems of a new API key's arguments. */
export function apiKeyProblems(args: CreateApiKeyArgs): FieldProblem[] {
  const name = args.name.trim();
  return name.length < 1 || name.length > 200 ? [{ field: 'name', message: 'must be 1 to 200 characters' }] : [];
}
