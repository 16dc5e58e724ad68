import type { Template } from 'liquidjs';
import { compiledBody, renderCompiled } from './compiled-body.js';
import { convertLegacyPlaceholders } from './legacy-placeholders.js';
import { assembleMjml, escapeHtml } from './layout.js';
import { mjmlToHtml } from './mjml.js';
import { htmlToText, withUnsubscribeLine } from './plain-text.js';
import type { TemplateData } from './template-data.js';
import { engineFor, errorMessage, MAX_BODY_LENGTH, maxLength, remainingMs, TemplateRenderError, type TemplatePart } from './template-engine.js';
import { buildScope } from './template-variables.js';

/** A rendered email: one-line subject, HTML part and plain-text part. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

const PARSED_CACHE_SIZE = 256;
const parsedCache = new Map<string, Template[]>();

/** A template parsed once per source: a sequence's subject is rendered for every lead. Parse errors are not kept. */
function parsed(part: TemplatePart, source: string): Template[] {
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
// promise per tag that liquidjs's async render costs on every email. It runs in a render worker (render-pool.ts),
// never on the server's event loop; `deadline` is the time this render must end by (liquid's renderLimit).
export function renderLiquid(part: TemplatePart, source: string, scope: Record<string, unknown>, deadline: number): string {
  const max = maxLength(part);
  if (source.length > max) throw new TemplateRenderError(`The ${part} template is longer than ${max} characters.`);
  try {
    return String(engineFor(part).renderSync(parsed(part, source), scope, { renderLimit: remainingMs(deadline) }));
  } catch (error) {
    throw new TemplateRenderError(`Could not render the ${part}: ${errorMessage(error)}`, { cause: error });
  }
}

/** A subject is a single header line: control characters and line breaks become single spaces. */
function normalizeSubject(subject: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is this expression's purpose
  return subject.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
}

/**
 * Renders a step for one lead, in this thread, by `deadline` (epoch ms) as far as Liquid can tell. Throws
 * TemplateRenderError with a clear message on failure. The server calls `renderEmail` (render.ts) instead.
 */
export async function renderInThread(template: { subject: string; body: string }, data: TemplateData, deadline: number): Promise<RenderedEmail> {
  if (!data.unsubscribeUrl) throw new TemplateRenderError('An unsubscribe URL is required to render an email.');
  const scope = buildScope(data);
  const subject = normalizeSubject(renderLiquid('subject', template.subject, scope, deadline));
  const compiled = template.body.length <= MAX_BODY_LENGTH ? await compiledBody(template.body) : null;
  if (compiled) return { subject, ...renderCompiled(compiled, subject, scope, data.unsubscribeUrl, deadline) };

  // The full pipeline, per email: the body could not be compiled (see compiled-body.ts for when).
  const body = renderLiquid('body', template.body, scope, deadline);
  const html = await mjmlToHtml(assembleMjml(body, subject, data.unsubscribeUrl));
  if (!html.includes(escapeHtml(data.unsubscribeUrl)) && !html.includes(data.unsubscribeUrl)) {
    throw new TemplateRenderError('The rendered body lost its unsubscribe link; check the MJML around {{ unsubscribe_url }}.');
  }
  return { subject, html, text: withUnsubscribeLine(htmlToText(html).trim(), data.unsubscribeUrl) };
}
