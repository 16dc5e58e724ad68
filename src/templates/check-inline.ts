import type { Liquid, Template } from 'liquidjs';
import { convertLegacyPlaceholders, legacyProblem } from './legacy-placeholders.js';
import { assembleMjml } from './layout.js';
import { mjmlProblems, mjmlToHtml } from './mjml.js';
import { renderLiquid } from './render-inline.js';
import type { TemplateData } from './template-data.js';
import { engineFor, errorMessage, isLimitError, maxLength, remainingMs, type TemplatePart, type TemplateProblem } from './template-engine.js';
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

const LONG = 'x'.repeat(200);

/**
 * The largest lead a send can meet, roughly: attributes up to the 16 KiB a lead may hold (many keys, long values,
 * a long list) and names at their longest. A template that loops over attributes costs nothing with the empty
 * sample and a second per email with real leads; rendered with this, it is refused at save instead.
 */
const HOSTILE_DATA: TemplateData = {
  lead: {
    ...SAMPLE_DATA.lead,
    firstName: LONG,
    lastName: LONG,
    companyName: LONG,
    email: `${'x'.repeat(64)}@${'x'.repeat(180)}.example`,
    attributes: {
      ...Object.fromEntries(Array.from({ length: 160 }, (_, i) => [`attribute_${i}`, 'v'.repeat(40)])),
      list: Array.from({ length: 1000 }, (_, i) => i % 10),
      text: 'w '.repeat(1000),
    },
  },
  company: { ...SAMPLE_DATA.company, name: LONG, fromName: LONG },
  unsubscribeUrl: SAMPLE_DATA.unsubscribeUrl,
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

function tooSlow(part: TemplatePart, error: unknown, what: string): TemplateProblem {
  return { message: `The ${part} is too slow to render ${what}: ${errorMessage(error)}`, slow: true };
}

/**
 * Renders with sample data, which also catches templates that blow the time or memory limits. For a body, also
 * gives the assembled MJML document, whose conversion to HTML is timed last (mjmlConversionProblems).
 */
function sampleRenderProblems(part: TemplatePart, templates: Template[], deadline: number): { problems: TemplateProblem[]; mjml?: string } {
  let rendered: unknown;
  try {
    rendered = engineFor(part).renderSync(templates, buildScope(SAMPLE_DATA), { renderLimit: remainingMs(deadline) });
  } catch (error) {
    if (isLimitError(error)) return { problems: [tooSlow(part, error, 'with sample data')] };
    return { problems: [{ message: `The ${part} fails to render: ${errorMessage(error)}` }] };
  }
  if (part === 'subject') return { problems: [] };
  const mjml = assembleMjml(String(rendered), 'Sample subject', SAMPLE_DATA.unsubscribeUrl);
  return { problems: mjmlProblems(mjml), mjml };
}

/**
 * Renders the Liquid with the largest lead (HOSTILE_DATA) within the check's time: only the cost is judged here
 * (other failures were reported from the sample). MJML is left out: a body's MJML is converted once per source
 * (compiled-body.ts), not per lead.
 */
function hostileRenderProblems(part: TemplatePart, source: string, deadline: number): TemplateProblem[] {
  try {
    renderLiquid(part, source, buildScope(HOSTILE_DATA), deadline);
  } catch (error) {
    if (isLimitError(error)) return [tooSlow(part, error, 'for a lead with many attributes and long values')];
  }
  return Date.now() > deadline ? [tooSlow(part, 'over the time limit', 'for a lead with many attributes and long values')] : [];
}

/**
 * Converts the assembled body to HTML, as every send does (once per worker for a compiled body, per email
 * otherwise), within what is left of the check's time. Validating MJML is cheap but converting it is not: a large
 * body (thousands of sections, no Liquid at all) validates in a blink and takes seconds to convert, which at send
 * is over the hard limit every time. MJML cannot be interrupted: past the check's limit the pool kills this
 * worker, and the check is refused as too slow all the same.
 */
async function mjmlConversionProblems(mjml: string, deadline: number): Promise<TemplateProblem[]> {
  try {
    await mjmlToHtml(mjml);
  } catch (error) {
    return [{ message: `The body fails to convert to HTML: ${errorMessage(error)}` }];
  }
  return Date.now() > deadline ? [tooSlow('body', 'over the time limit', 'as HTML (its MJML is too large)')] : [];
}

async function checkUnsafe(source: string, part: TemplatePart, deadline: number): Promise<TemplateProblem[]> {
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
  const sample = sampleRenderProblems(part, templates, deadline);
  problems.push(...sample.problems);
  if (problems.length > 0) return problems;
  const hostile = hostileRenderProblems(part, source, deadline);
  if (hostile.length > 0 || sample.mjml === undefined) return hostile;
  return mjmlConversionProblems(sample.mjml, deadline);
}

/**
 * Problems found when saving a template, checked in this thread by `deadline` (epoch ms); [] when fine. Never
 * throws. The server calls `checkTemplate` (template-check.ts), which runs this in a render worker.
 */
export async function checkInThread(source: string, part: TemplatePart, deadline: number): Promise<TemplateProblem[]> {
  if (typeof source !== 'string') return [{ message: `The ${String(part)} must be a string.` }];
  try {
    return await checkUnsafe(source, part, deadline);
  } catch (error) {
    if (isLimitError(error)) return [tooSlow(part, error, 'with sample data')];
    return [{ message: `The ${part} could not be checked: ${errorMessage(error)}` }];
  }
}
