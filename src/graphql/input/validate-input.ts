import { getNamedType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import type { ValidatorFn } from 'type-graphql';
import { InvalidInputError, type FieldProblem } from '../../core/errors.js';
import { RenderBudget, requestRenderBudget } from '../../templates/render-budget.js';
import type { Context } from '../context.js';
import { INPUT_CHECKS, type CheckRequest, type InputCheck } from './input-checks.js';
import { unstorableProblems } from './storable-input.js';

/*
 * The one way arguments are validated: type-graphql's `validateFn`, which runs for every argument of every field
 * before its resolver. First, once per field call, what PostgreSQL cannot store (storable-input.ts); then the
 * argument's class's problems from INPUT_CHECKS (pure functions of the feature modules). Any problem fails the
 * call as BAD_USER_INPUT with `extensions.fields` naming each field (`input.steps.2.subject`, `first`).
 */

/** Args objects already checked for unstorable values: graphql-js builds one per field call, shared by its params. */
const storableChecked = new WeakSet<object>();

/** Scalars and enums carry no rules of their own; a class is an input or args type and must have a check. */
const PLAIN = new Set<unknown>([String, Number, Boolean, Date]);

export const validateInput: ValidatorFn = async (value, type, { args, info, context }) => {
  if (!storableChecked.has(args)) {
    storableChecked.add(args);
    const problems = unstorableProblems(args);
    if (problems.length > 0) throw new InvalidInputError(problems);
  }
  if (typeof type !== 'function' || PLAIN.has(type)) return;
  const check = INPUT_CHECKS.get(type);
  if (!check) throw new Error(`No input check for ${type.name}: add it to INPUT_CHECKS (graphql/input/input-checks.ts)`);
  if (value === null || value === undefined) return;
  // Template checks render in the render workers, within the request's render budget (templates/render-budget.ts).
  const request: CheckRequest = { renderBudget: renderBudgetOf(context) };
  const problems = await problemsOf(check, value, check.kind === 'args' ? '' : argumentName(info, type.name), request);
  if (problems.length > 0) throw new InvalidInputError(problems, check.reason);
};

async function problemsOf(check: InputCheck, value: unknown, path: string, request: CheckRequest): Promise<FieldProblem[]> {
  if (!Array.isArray(value)) return check.problems(value, path, request);
  const problems: FieldProblem[] = [];
  for (const [index, item] of value.entries()) {
    if (item !== null && item !== undefined) problems.push(...(await check.problems(item, `${path}.${index}`, request)));
  }
  return problems;
}

/** The request's render budget; its templates wait in its company's render queue (one for the operator, one for the rest). */
function renderBudgetOf(context: unknown): RenderBudget {
  if (typeof context !== 'object' || context === null) return new RenderBudget('anonymous');
  const auth = (context as Partial<Context>).auth;
  return requestRenderBudget(context, auth?.kind === 'company' ? auth.companyId : (auth?.kind ?? 'anonymous'));
}

/** The name of the field's argument of the input type `typeName` (problems are named from it: `input.email`). */
function argumentName(info: GraphQLResolveInfo, typeName: string): string {
  const field = info.parentType.getFields()[info.fieldName];
  const arg = field?.args.find((candidate) => getNamedType(candidate.type).name === typeName);
  if (!arg) throw new Error(`${info.parentType.name}.${info.fieldName} has no argument of type ${typeName}`);
  return arg.name;
}

/**
 * Fails the schema build when an input type reaches an argument without a check: every argument is validated
 * the one way, or the server does not start. (Args classes are held to it on their first call, in `validateInput`.)
 */
export function assertEveryInputChecked(schema: GraphQLSchema): void {
  const checked = new Set([...INPUT_CHECKS].filter(([, check]) => check.kind === 'input').map(([type]) => (type as { name: string }).name));
  const missing = new Set<string>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType(), ...Object.values(schema.getTypeMap())]) {
    if (!type || !('getFields' in type) || type.name.startsWith('__') || !('getInterfaces' in type)) continue;
    for (const field of Object.values(type.getFields())) {
      for (const arg of field.args) {
        const named = getNamedType(arg.type);
        if ('getFields' in named && !checked.has(named.name)) missing.add(`${type.name}.${field.name}(${arg.name}: ${named.name})`);
      }
    }
  }
  if (missing.size > 0) throw new Error(`Arguments without an input check (graphql/input/input-checks.ts): ${[...missing].join(', ')}`);
}
