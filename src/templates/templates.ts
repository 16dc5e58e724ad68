import { createRequire } from 'node:module';
import { compile as compileHtmlToText } from 'html-to-text';
import { Liquid, Tag, type Emitter, type FS, type Template, type Variable } from 'liquidjs';
import mjml2html from 'mjml';

/** The lead fields a template can read, as the caller holds them (camelCase). */
export interface TemplateLead {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  companyName: string | null;
  timezone: string | null;
  score: number;
  attributes: Record<string, unknown>;
}

/** The sending company's fields a template can read. */
export interface TemplateCompany {
  name: string;
  fromAddress: string;
  fromName: string | null;
  timezone: string;
}

/** Everything one email is rendered from. */
export interface TemplateData {
  lead: TemplateLead;
  company: TemplateCompany;
  unsubscribeUrl: string;
}

/** One reason a template cannot be saved; `variable` names the offending variable when there is one. */
export interface TemplateProblem {
  message: string;
  variable?: string;
}

/** A rendered email: one-line subject, HTML part and plain-text part. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** Longest subject template accepted, in characters. */
export const MAX_SUBJECT_LENGTH: number = 500;
/** Longest body template accepted, in characters. */
export const MAX_BODY_LENGTH: number = 100_000;

/** Raised by renderEmail when a step cannot be turned into an email. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

const LEAD_FIELDS = ['first_name', 'last_name', 'email', 'company_name', 'timezone', 'score'] as const;
const COMPANY_FIELDS = ['name', 'from_address', 'from_name'] as const;
/** Top-level names usable bare and as legacy `{name}` placeholders. */
const SHORTCUTS = ['first_name', 'last_name', 'email', 'company_name', 'unsubscribe_url'] as const;
/** Liquid's built-in properties, valid after any scalar (`first_name.size`). */
const SCALAR_PROPERTIES = new Set(['size', 'first', 'last']);

/** The variables templates may use, for docs (e.g. the GraphQL schema description). */
export const TEMPLATE_VARIABLES: ReadonlyArray<{ name: string; description: string }> = Object.freeze([
  { name: 'lead.first_name', description: 'The lead\'s first name; may be empty, so prefer `{{ lead.first_name | default: "there" }}`.' },
  { name: 'lead.last_name', description: 'The lead\'s last name; may be empty.' },
  { name: 'lead.email', description: 'The lead\'s email address.' },
  { name: 'lead.company_name', description: 'The name of the company the lead works for; may be empty.' },
  { name: 'lead.timezone', description: 'The lead\'s IANA time zone (e.g. "Europe/Paris"); may be empty.' },
  { name: 'lead.score', description: 'The lead\'s engagement score (a number), e.g. `{% if lead.score > 50 %}`.' },
  { name: 'lead.attributes.<key>', description: 'A custom attribute of the lead; a missing attribute renders empty, so use `| default: "…"`.' },
  { name: 'company.name', description: 'Your company\'s display name.' },
  { name: 'company.from_address', description: 'The address emails are sent from.' },
  { name: 'company.from_name', description: 'The sender name emails are sent as; may be empty.' },
  { name: 'unsubscribe_url', description: 'The lead\'s one-click unsubscribe link. If a body does not link to it, a footer with it is appended.' },
  { name: 'first_name', description: 'Shortcut for lead.first_name; `{first_name}` also works.' },
  { name: 'last_name', description: 'Shortcut for lead.last_name; `{last_name}` also works.' },
  { name: 'email', description: 'Shortcut for lead.email; `{email}` also works.' },
  { name: 'company_name', description: 'Shortcut for lead.company_name (the lead\'s company, not yours); `{company_name}` also works.' },
]);

// ---------------------------------------------------------------------------
// Liquid engines

const RENDER_LIMIT_MS = 1000;
// liquidjs counts allocations (ranges, string concatenation…) against this; 10M covers any sane email.
const MEMORY_LIMIT = 10_000_000;
// Legacy placeholder conversion can grow a template, so allow headroom over the body limit.
const PARSE_LIMIT = MAX_BODY_LENGTH * 2;
const FORBIDDEN_TAGS = ['include', 'render', 'layout'] as const;

/** Rejects at parse time, so forbidden tags fail both checking and rendering with a located message. */
class ForbiddenTag extends Tag {
  constructor(...args: ConstructorParameters<typeof Tag>) {
    super(...args);
    throw new Error(`the "${this.name}" tag is not allowed in email templates`);
  }

  override render(_ctx: unknown, _emitter: Emitter): void {}
}

/** A file system with no files, so nothing a template names can ever be read from disk. */
const NO_FILES: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

function createEngine(outputEscape: 'escape' | undefined): Liquid {
  const engine = new Liquid({
    fs: NO_FILES,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    ownPropertyOnly: true,
    strictVariables: false,
    // A misspelt filter would otherwise silently pass the value through.
    strictFilters: true,
    outputEscape,
    parseLimit: PARSE_LIMIT,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
  });
  for (const tag of FORBIDDEN_TAGS) engine.registerTag(tag, ForbiddenTag);
  return engine;
}

/** Subjects are plain text headers: nothing to escape. */
const subjectEngine = createEngine(undefined);
/** Bodies become HTML, so every interpolated value is HTML-escaped unless the author writes `| raw`. */
const bodyEngine = createEngine('escape');

function engineFor(part: 'subject' | 'body'): Liquid {
  return part === 'subject' ? subjectEngine : bodyEngine;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// Legacy `{first_name}` placeholders

// Liquid markup (and raw blocks) are matched first and kept, so only bare `{word}` in text is converted.
const LEGACY_SCAN = /(\{%-?\s*raw\s*-?%\}[\s\S]*?\{%-?\s*endraw\s*-?%\}|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})|\{([a-z_]+)\}/g;

function isShortcut(word: string): boolean {
  return (SHORTCUTS as readonly string[]).includes(word);
}

/** Rewrites `{first_name}` to `{{first_name}}`; unknown `{word}`s are left as text and listed. */
function convertLegacyPlaceholders(source: string): { source: string; unknown: string[] } {
  const unknown: string[] = [];
  const converted = source.replace(LEGACY_SCAN, (match: string, liquid: string | undefined, word: string | undefined) => {
    if (liquid !== undefined || word === undefined) return match;
    if (isShortcut(word)) return `{{${word}}}`;
    if (!unknown.includes(word)) unknown.push(word);
    return match;
  });
  return { source: converted, unknown };
}

function legacyProblem(word: string): TemplateProblem {
  return {
    message: `Unknown placeholder "{${word}}". Use one of ${SHORTCUTS.map((name) => `{${name}}`).join(', ')}, or {{ lead.attributes.${word} }} for a custom attribute.`,
    variable: word,
  };
}

// ---------------------------------------------------------------------------
// Variable checking (static analysis, no rendering)

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
  const hint = typo
    ? `Did you mean "lead.${typo}"?`
    : `Custom attributes live under lead.attributes — did you mean "lead.attributes.${field}"?`;
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
function variableProblems(engine: Liquid, templates: Template[]): TemplateProblem[] {
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

// ---------------------------------------------------------------------------
// Render scope

function buildScope(data: TemplateData): Record<string, unknown> {
  const { lead, company } = data;
  const leadScope = {
    first_name: lead.firstName,
    last_name: lead.lastName,
    email: lead.email,
    company_name: lead.companyName,
    timezone: lead.timezone,
    score: lead.score,
    attributes: lead.attributes,
  };
  return {
    lead: leadScope,
    company: { name: company.name, from_address: company.fromAddress, from_name: company.fromName },
    unsubscribe_url: data.unsubscribeUrl,
    first_name: leadScope.first_name,
    last_name: leadScope.last_name,
    email: leadScope.email,
    company_name: leadScope.company_name,
  };
}

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

// ---------------------------------------------------------------------------
// MJML assembly

function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isMjml(body: string): boolean {
  return /^\s*<mjml[\s>]/i.test(body);
}

/** True when the rendered body already links to the URL (escaped by Liquid or written raw). */
function linksTo(body: string, url: string): boolean {
  const forms = [...new Set([escapeHtml(url), url])].map(escapeRegExp).join('|');
  return new RegExp(`href\\s*=\\s*["'](?:${forms})["']`, 'i').test(body);
}

function footerSection(unsubscribeUrl: string): string {
  const href = escapeHtml(unsubscribeUrl);
  return `<mj-section padding="16px 24px 32px"><mj-column><mj-text align="center" font-size="12px" line-height="1.5" color="#7b8794">Don't want these emails? <a href="${href}" style="color:#7b8794;text-decoration:underline;">Unsubscribe</a></mj-text></mj-column></mj-section>`;
}

const BLOCK_TAG = /<(?:p|div|br|ul|ol|li|table|h[1-6]|blockquote|pre|hr)\b/i;

/** Text without block markup would collapse into one line in HTML, so its blank lines become paragraphs. */
function textToHtml(fragment: string): string {
  if (BLOCK_TAG.test(fragment)) return fragment;
  return fragment
    .trim()
    .split(/\n\s*\n/)
    .map((paragraph) => `<p>${paragraph.trim().replace(/\n/g, '<br />')}</p>`)
    .join('\n');
}

function defaultLayout(fragment: string, title: string, footer: string): string {
  return `<mjml>
  <mj-head>
    <mj-title>${escapeHtml(title)}</mj-title>
    <mj-attributes>
      <mj-all font-family="Helvetica, Arial, sans-serif" />
      <mj-text font-size="16px" line-height="1.6" color="#1f2933" />
    </mj-attributes>
    <mj-style>p { margin: 0 0 16px; } a { color: #2563eb; }</mj-style>
  </mj-head>
  <mj-body background-color="#f4f5f7" width="600px">
    <mj-section padding="0"><mj-column><mj-spacer height="24px" /></mj-column></mj-section>
    <mj-section background-color="#ffffff" border-radius="8px" padding="24px 16px">
      <mj-column>
        <mj-text>${textToHtml(fragment)}</mj-text>
      </mj-column>
    </mj-section>
    ${footer}
  </mj-body>
</mjml>`;
}

function insertBeforeBodyEnd(mjml: string, section: string): string {
  const closings = [...mjml.matchAll(/<\/mj-body\s*>/gi)];
  const last = closings.at(-1);
  if (last?.index === undefined) return mjml;
  return `${mjml.slice(0, last.index)}${section}\n${mjml.slice(last.index)}`;
}

/** Turns a rendered body into a full MJML document that links to the unsubscribe URL. */
function assembleMjml(renderedBody: string, subject: string, unsubscribeUrl: string): string {
  const footer = linksTo(renderedBody, unsubscribeUrl) ? '' : footerSection(unsubscribeUrl);
  if (!isMjml(renderedBody)) return defaultLayout(renderedBody, subject, footer);
  return footer ? insertBeforeBodyEnd(renderedBody, footer) : renderedBody;
}

// ---------------------------------------------------------------------------
// Synchronous MJML validation
//
// mjml 5's mjml2html is async, but checkTemplate must stay synchronous, so checks
// call mjml's own (synchronous) XML parser and validator directly. They are
// resolved through mjml itself so they are the very instances mjml2html uses,
// with mjml's preset components already registered by the import above.

interface MjmlNode {
  tagName: string;
  children?: MjmlNode[];
}

interface MjmlValidationError {
  line: number;
  message: string;
  tagName: string;
}

interface MjmlInternals {
  parse: (xml: string, options: Record<string, unknown>) => unknown;
  validate: (node: unknown, options: Record<string, unknown>) => unknown;
  components: unknown;
  dependencies: unknown;
  initializeType: unknown;
}

function property(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as Record<string, unknown>)[key];
}

function functionOf<T>(value: unknown, what: string): T {
  if (typeof value !== 'function') throw new Error(`mjml internals changed: ${what} is not a function`);
  return value as T;
}

function loadMjmlInternals(): MjmlInternals {
  const fromHere = createRequire(import.meta.url);
  const fromMjml = createRequire(fromHere.resolve('mjml'));
  const fromCore = createRequire(fromMjml.resolve('mjml-core'));
  const core: unknown = fromMjml('mjml-core');
  const validator: unknown = fromCore('mjml-validator');
  return {
    parse: functionOf(fromCore('mjml-parser-xml'), 'mjml-parser-xml'),
    validate: functionOf(property(validator, 'default'), 'mjml-validator'),
    components: property(core, 'components'),
    dependencies: property(validator, 'dependencies'),
    initializeType: property(core, 'initializeType'),
  };
}

let mjmlInternals: MjmlInternals | undefined;

function isMjmlNode(value: unknown): value is MjmlNode {
  return typeof property(value, 'tagName') === 'string';
}

function isValidationError(value: unknown): value is MjmlValidationError {
  return typeof property(value, 'message') === 'string';
}

/** Problems mjml finds in a full MJML document: not MJML at all, no body, or invalid elements/attributes. */
function mjmlProblems(mjml: string): TemplateProblem[] {
  mjmlInternals ??= loadMjmlInternals();
  const { parse, validate, components, dependencies, initializeType } = mjmlInternals;
  let root: unknown;
  try {
    root = parse(mjml, { components, keepComments: false, ignoreIncludes: true });
  } catch (error) {
    return [{ message: `Body is not valid MJML: ${errorMessage(error)}` }];
  }
  if (!isMjmlNode(root) || root.tagName !== 'mjml') {
    return [{ message: 'Body is not valid MJML: it must be a single <mjml> element (or not start with <mjml> to use the default layout).' }];
  }
  if (!root.children?.some((child) => child.tagName === 'mj-body')) {
    return [{ message: 'Body is not valid MJML: <mjml> must contain an <mj-body>.' }];
  }
  const errors = validate(root, { components, dependencies, initializeType });
  if (!Array.isArray(errors)) return [];
  return errors
    .filter(isValidationError)
    .map((error) => ({ message: `MJML error near line ${error.line} (<${error.tagName}>): ${error.message}` }));
}

// ---------------------------------------------------------------------------
// checkTemplate

function lengthProblem(source: string, part: 'subject' | 'body'): TemplateProblem | undefined {
  const max = part === 'subject' ? MAX_SUBJECT_LENGTH : MAX_BODY_LENGTH;
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
function sampleRenderProblems(part: 'subject' | 'body', templates: Template[]): TemplateProblem[] {
  let rendered: unknown;
  try {
    rendered = engineFor(part).renderSync(templates, buildScope(SAMPLE_DATA));
  } catch (error) {
    return [{ message: `The ${part} fails to render: ${errorMessage(error)}` }];
  }
  if (part === 'subject') return [];
  return mjmlProblems(assembleMjml(String(rendered), 'Sample subject', SAMPLE_DATA.unsubscribeUrl));
}

function checkTemplateUnsafe(source: string, part: 'subject' | 'body'): TemplateProblem[] {
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
export function checkTemplate(source: string, part: 'subject' | 'body'): TemplateProblem[] {
  if (typeof source !== 'string') return [{ message: `The ${String(part)} must be a string.` }];
  try {
    return checkTemplateUnsafe(source, part);
  } catch (error) {
    return [{ message: `The ${part} could not be checked: ${errorMessage(error)}` }];
  }
}

// ---------------------------------------------------------------------------
// renderEmail

const htmlToText = compileHtmlToText({
  wordwrap: 78,
  selectors: [
    { selector: 'img', format: 'skip' },
    // The inbox preview line (mj-preview) is hidden in HTML and would read as a stray first line.
    { selector: 'div[style*="display:none"]', format: 'skip' },
    // mjml wraps every mj-text in a div; a blank line between them reads like paragraphs.
    { selector: 'div', options: { leadingLineBreaks: 2, trailingLineBreaks: 2 } },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
  ],
});

const PARSED_CACHE_SIZE = 256;
const parsedCache = new Map<string, Template[]>();

/** A template parsed once per source: a sequence's subject is rendered for every lead. Parse errors are not kept. */
function parsed(part: 'subject' | 'body', source: string): Template[] {
  const key = `${part}\u0000${source}`;
  let templates = parsedCache.get(key);
  if (!templates) {
    templates = engineFor(part).parse(convertLegacyPlaceholders(source).source);
    parsedCache.set(key, templates);
    if (parsedCache.size > PARSED_CACHE_SIZE) parsedCache.delete(parsedCache.keys().next().value!);
  }
  return templates;
}

// Rendering is synchronous (no template can reach a file or anything else that waits), which spares the
// promise per tag that liquidjs's async render costs on every email.
function renderLiquid(part: 'subject' | 'body', source: string, scope: Record<string, unknown>): string {
  const max = part === 'subject' ? MAX_SUBJECT_LENGTH : MAX_BODY_LENGTH;
  if (source.length > max) throw new TemplateRenderError(`The ${part} template is longer than ${max} characters.`);
  try {
    return String(engineFor(part).renderSync(parsed(part, source), scope));
  } catch (error) {
    throw new TemplateRenderError(`Could not render the ${part}: ${errorMessage(error)}`, { cause: error });
  }
}

/** A subject is a single header line: control characters and line breaks become single spaces. */
function normalizeSubject(subject: string): string {
  return subject.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
}

async function mjmlToHtml(mjml: string): Promise<string> {
  try {
    const result = await mjml2html(mjml, { validationLevel: 'soft', keepComments: false, ignoreIncludes: true });
    return result.html;
  } catch (error) {
    throw new TemplateRenderError(`The body is not valid MJML: ${errorMessage(error)}`, { cause: error });
  }
}

function textPart(html: string, unsubscribeUrl: string): string {
  const text = htmlToText(html).trim();
  // Belt and braces: a link mjml dropped or hid inside an image must still reach plain-text readers.
  return text.includes(unsubscribeUrl) ? text : `${text}\n\nUnsubscribe: ${unsubscribeUrl}`;
}

/** Renders a step for one lead. Throws TemplateRenderError with a clear message on failure. */
export async function renderEmail(template: { subject: string; body: string }, data: TemplateData): Promise<RenderedEmail> {
  if (!data.unsubscribeUrl) throw new TemplateRenderError('An unsubscribe URL is required to render an email.');
  const scope = buildScope(data);
  const subject = normalizeSubject(renderLiquid('subject', template.subject, scope));
  const compiled = template.body.length <= MAX_BODY_LENGTH ? await compiledBody(template.body) : null;
  if (compiled) return renderCompiled(compiled, subject, scope, data.unsubscribeUrl);

  const body = renderLiquid('body', template.body, scope);
  const html = await mjmlToHtml(assembleMjml(body, subject, data.unsubscribeUrl));
  if (!html.includes(escapeHtml(data.unsubscribeUrl)) && !html.includes(data.unsubscribeUrl)) {
    throw new TemplateRenderError('The rendered body lost its unsubscribe link; check the MJML around {{ unsubscribe_url }}.');
  }
  return { subject, html, text: textPart(html, data.unsubscribeUrl) };
}

// ---------------------------------------------------------------------------
// Precompiled bodies
//
// MJML and html-to-text cost ~2 ms per email, Liquid ~0.05 ms, and only Liquid depends on the lead. So a body is
// compiled once: its Liquid segments are swapped for inert tokens, the result goes through MJML (and the text
// converter), and the segments are put back, giving Liquid templates of the final HTML and text. Sending then
// costs one Liquid render per part. When Liquid is tangled with MJML structure (a loop producing sections, say)
// the tokens do not come out intact and in order, and that body takes the full pipeline for every email.

interface CompiledBody {
  html: Template[];
  /** Null when the text converter did not keep the tokens: the text part is then derived per email. */
  text: Template[] | null;
}

const TOKEN = /LQTOKEN(\d+)XQ/g;
const TITLE_TOKEN = 'LQTITLEXQ';
const UNSUBSCRIBE_SENTINEL = 'https://unsubscribe.invalid/LQUNSUBXQ';
const LIQUID_SEGMENT = /\{%-?\s*raw\s*-?%\}[\s\S]*?\{%-?\s*endraw\s*-?%\}|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;
const COMPILED_CACHE_SIZE = 256;
const compiledCache = new Map<string, Promise<CompiledBody | null>>();

function compiledBody(source: string): Promise<CompiledBody | null> {
  let entry = compiledCache.get(source);
  if (!entry) {
    entry = compileBody(source).catch(() => null);
    compiledCache.set(source, entry);
    if (compiledCache.size > COMPILED_CACHE_SIZE) compiledCache.delete(compiledCache.keys().next().value!);
  }
  return entry;
}

async function compileBody(source: string): Promise<CompiledBody | null> {
  if (/LQTOKEN|LQTITLEXQ|LQUNSUBXQ/.test(source)) return null;
  const segments: string[] = [];
  const tokenized = convertLegacyPlaceholders(source).source.replace(LIQUID_SEGMENT, (segment) => {
    if (/^\{\{-?\s*unsubscribe_url\s*-?\}\}$/.test(segment)) return UNSUBSCRIBE_SENTINEL;
    segments.push(segment);
    return `LQTOKEN${segments.length - 1}XQ`;
  });
  const html = await mjml2html(assembleMjml(tokenized, TITLE_TOKEN, UNSUBSCRIBE_SENTINEL), { validationLevel: 'soft', keepComments: false, ignoreIncludes: true });
  if (!tokensIntact(html.html, segments.length) || !html.html.includes(UNSUBSCRIBE_SENTINEL)) return null;
  const text = htmlToText(html.html).trim();
  const restore = (compiled: string) =>
    compiled.replaceAll(UNSUBSCRIBE_SENTINEL, '{{ unsubscribe_url }}').replace(TOKEN, (_match, index: string) => segments[Number(index)]!);
  return {
    html: bodyEngine.parse(restore(html.html).replaceAll(TITLE_TOKEN, '{{ __subject }}')),
    text: tokensIntact(text, segments.length) ? subjectEngine.parse(restore(text).replaceAll(TITLE_TOKEN, '')) : null,
  };
}

/** Every token exactly once and in order: control flow (`if` … `endif`) survives only then. */
function tokensIntact(compiled: string, count: number): boolean {
  const found = [...compiled.matchAll(TOKEN)].map((match) => Number(match[1]));
  return found.length === count && found.every((index, position) => index === position);
}

function renderCompiled(compiled: CompiledBody, subject: string, scope: Record<string, unknown>, unsubscribeUrl: string): RenderedEmail {
  const withSubject = { ...scope, __subject: subject };
  try {
    const html = String(bodyEngine.renderSync(compiled.html, withSubject));
    const text = compiled.text ? String(subjectEngine.renderSync(compiled.text, withSubject)).trim() : htmlToText(html).trim();
    return { subject, html, text: text.includes(unsubscribeUrl) ? text : `${text}\n\nUnsubscribe: ${unsubscribeUrl}` };
  } catch (error) {
    throw new TemplateRenderError(`Could not render the body: ${errorMessage(error)}`, { cause: error });
  }
}
