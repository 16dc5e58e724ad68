import type { Liquid, Template, Variable } from 'liquidjs';
import type { TemplateProblem } from './template-engine.js';
import { COMPANY_FIELDS, isShortcut, LEAD_FIELDS, SCALAR_PROPERTIES, SHORTCUTS, TEMPLATE_VARIABLES } from './template-variables.js';

// Static analysis of the variables a template reads (no rendering), with "did you mean" hints on typos.

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate within two edits, for "did you mean" hints on typos. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

function formatPath(segments: ReadonlyArray<string | number | Variable>): string {
  return segments
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (typeof segment === 'string') return i === 0 ? segment : `.${segment}`;
      return `[${segment.toString()}]`;
    })
    .join('');
}

function unknownVariable(variable: Variable, hint: string): TemplateProblem {
  const name = formatPath(variable.segments);
  return { message: `Unknown variable "${name}" (line ${variable.location.row}).${hint ? ` ${hint}` : ''}`, variable: name };
}

/** Checks the segments after a scalar (e.g. `first_name.size`): only Liquid's built-ins make sense there. */
function scalarTailProblem(variable: Variable, from: number): TemplateProblem | undefined {
  const tail = variable.segments.slice(from);
  const valid = tail.every((segment) => typeof segment === 'string' && SCALAR_PROPERTIES.has(segment));
  return valid ? undefined : unknownVariable(variable, `"${formatPath(variable.segments.slice(0, from))}" is a single value.`);
}

function leadProblem(variable: Variable): TemplateProblem | undefined {
  const field = variable.segments[1];
  // Bare `lead` and computed keys (`lead[key]`) cannot be checked statically.
  if (field === undefined || typeof field !== 'string' || field === 'attributes') return undefined;
  if ((LEAD_FIELDS as readonly string[]).includes(field)) return scalarTailProblem(variable, 2);
  const typo = closest(field, LEAD_FIELDS);
  const hint = typo ? `Did you mean "lead.${typo}"?` : `Custom attributes live under lead.attributes — did you mean "lead.attributes.${field}"?`;
  return unknownVariable(variable, hint);
}

function companyProblem(variable: Variable): TemplateProblem | undefined {
  const field = variable.segments[1];
  if (field === undefined || typeof field !== 'string') return undefined;
  if ((COMPANY_FIELDS as readonly string[]).includes(field)) return scalarTailProblem(variable, 2);
  return unknownVariable(variable, `Company variables are ${COMPANY_FIELDS.map((name) => `company.${name}`).join(', ')}.`);
}

function rootHint(root: string): string {
  if ((LEAD_FIELDS as readonly string[]).includes(root)) return `Did you mean "lead.${root}"?`;
  if (root === 'attributes') return 'Did you mean "lead.attributes"?';
  const typo = closest(root, [...SHORTCUTS, 'lead', 'company']);
  if (typo) return `Did you mean "${typo}"?`;
  return `Available variables: ${TEMPLATE_VARIABLES.map((v) => v.name).join(', ')}.`;
}

function variableProblem(variable: Variable): TemplateProblem | undefined {
  const root = variable.segments[0];
  if (typeof root !== 'string') return undefined;
  if (root === 'lead') return leadProblem(variable);
  if (root === 'company') return companyProblem(variable);
  if (isShortcut(root)) return scalarTailProblem(variable, 1);
  return unknownVariable(variable, rootHint(root));
}

/** Globals only: loop variables and assign/capture locals are in scope, not unknown. */
export function variableProblems(engine: Liquid, templates: Template[]): TemplateProblem[] {
  const analysis = engine.analyzeSync(templates, { partials: false });
  const problems = new Map<string, TemplateProblem>();
  for (const variables of Object.values(analysis.globals)) {
    for (const variable of variables) {
      const problem = variableProblem(variable);
      if (problem?.variable !== undefined && !problems.has(problem.variable)) problems.set(problem.variable, problem);
    }
  }
  return [...problems.values()];
}
