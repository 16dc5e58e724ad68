import type { Liquid, Template } from 'liquidjs';
import { convertLegacyPlaceholders, legacyProblem } from './legacy-placeholders.js';
import { assembleMjml } from './layout.js';
import { mjmlProblems } from './mjml.js';
import type { TemplateData } from './template-data.js';
import { engineFor, errorMessage, maxLength, type TemplatePart, type TemplateProblem } from './template-engine.js';
import { buildScope } from './template-variables.js';
import { variableProblems } from './variable-check.js';

/** Stand-in data for save-time checks, with every field filled so conditional content is exercised. */
const SAMPLE_DATA: TemplateData = {
  lead: {
    email: 'alex@example.com',
    firstName: 'Alex',
    lastName: 'Morgan',
    companyName: 'Example Corp',
    timezone: 'Europe/London',
    score: 50,
    attributes: {},
  },
  company: { name: 'Your Company', fromAddress: 'hello@example.com', fromName: 'Your Company', timezone: 'UTC' },
  unsubscribeUrl: 'https://example.com/unsubscribe/sample',
};

function lengthProblem(source: string, part: TemplatePart): TemplateProblem | undefined {
  const max = maxLength(part);
  if (source.length <= max) return undefined;
  return { message: `The ${part} is ${source.length} characters long; the maximum is ${max}.` };
}

function parseForCheck(engine: Liquid, source: string): { templates?: Template[]; problem?: TemplateProblem } {
  try {
    return { templates: engine.parse(source) };
  } catch (error) {
    return { problem: { message: `Liquid syntax error: ${errorMessage(error)}` } };
  }
}

/** Renders with sample data, which also catches templates that blow the time or memory limits. */
function sampleRenderProblems(part: TemplatePart, templates: Template[]): TemplateProblem[] {
  let rendered: unknown;
  try {
    rendered = engineFor(part).renderSync(templates, buildScope(SAMPLE_DATA));
  } catch (error) {
    return [{ message: `The ${part} fails to render: ${errorMessage(error)}` }];
  }
  if (part === 'subject') return [];
  return mjmlProblems(assembleMjml(String(rendered), 'Sample subject', SAMPLE_DATA.unsubscribeUrl));
}

function checkTemplateUnsafe(source: string, part: TemplatePart): TemplateProblem[] {
  const tooLong = lengthProblem(source, part);
  // Oversized input is not analysed further: that is exactly the input that could be slow.
  if (tooLong) return [tooLong];
  if (source.trim() === '') return [{ message: `The ${part} is empty.` }];
  const problems: TemplateProblem[] = [];
  if (part === 'body' && /<mj-include\b/i.test(source)) {
    problems.push({ message: 'mj-include is not allowed in email templates.' });
  }
  const legacy = convertLegacyPlaceholders(source);
  problems.push(...legacy.unknown.map(legacyProblem));
  const engine = engineFor(part);
  const { templates, problem } = parseForCheck(engine, legacy.source);
  if (!templates) return [...problems, problem ?? { message: 'Liquid syntax error.' }];
  problems.push(...variableProblems(engine, templates));
  problems.push(...sampleRenderProblems(part, templates));
  return problems;
}

/** Problems found when saving a template; [] when fine. Never throws. */
export function checkTemplate(source: string, part: TemplatePart): TemplateProblem[] {
  if (typeof source !== 'string') return [{ message: `The ${String(part)} must be a string.` }];
  try {
    return checkTemplateUnsafe(source, part);
  } catch (error) {
    return [{ message: `The ${part} could not be checked: ${errorMessage(error)}` }];
  }
}
