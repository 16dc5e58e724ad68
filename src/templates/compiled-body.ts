import type { Template } from 'liquidjs';
import { convertLegacyPlaceholders } from './legacy-placeholders.js';
import { assembleMjml } from './layout.js';
import { mjmlToHtml } from './mjml.js';
import { htmlToText, withUnsubscribeLine } from './plain-text.js';
import { bodyEngine, errorMessage, LIQUID_MARKUP, remainingMs, subjectEngine, TemplateRenderError } from './template-engine.js';

// MJML and html-to-text cost ~2 ms per email, Liquid ~0.05 ms, and only Liquid depends on the lead. So a body is
// compiled once: its Liquid segments are swapped for inert tokens, the result goes through MJML (and the text
// converter), and the segments are put back, giving Liquid templates of the final HTML and text. Sending then
// costs one Liquid render per part. When Liquid is tangled with MJML structure (a loop producing sections, say)
// the tokens do not come out intact and in order, and that body takes the full pipeline for every email.

export interface CompiledBody {
  html: Template[];
  /** Null when the text converter did not keep the tokens: the text part is then derived per email. */
  text: Template[] | null;
}

const TOKEN = /LQTOKEN(\d+)XQ/g;
const TITLE_TOKEN = 'LQTITLEXQ';
const UNSUBSCRIBE_SENTINEL = 'https://unsubscribe.invalid/LQUNSUBXQ';
const COMPILED_CACHE_SIZE = 256;
const compiledCache = new Map<string, Promise<CompiledBody | null>>();

/** The compiled form of a body, once per source; null when the body must take the full pipeline. */
export function compiledBody(source: string): Promise<CompiledBody | null> {
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
  const tokenized = convertLegacyPlaceholders(source).source.replace(LIQUID_MARKUP, (segment) => {
    if (/^\{\{-?\s*unsubscribe_url\s*-?\}\}$/.test(segment)) return UNSUBSCRIBE_SENTINEL;
    segments.push(segment);
    return `LQTOKEN${segments.length - 1}XQ`;
  });
  const html = await mjmlToHtml(assembleMjml(tokenized, TITLE_TOKEN, UNSUBSCRIBE_SENTINEL));
  if (!tokensIntact(html, segments.length) || !html.includes(UNSUBSCRIBE_SENTINEL)) return null;
  const text = htmlToText(html).trim();
  const restore = (compiled: string) =>
    compiled.replaceAll(UNSUBSCRIBE_SENTINEL, '{{ unsubscribe_url }}').replace(TOKEN, (_match, index: string) => segments[Number(index)]!);
  return {
    html: bodyEngine.parse(restore(html).replaceAll(TITLE_TOKEN, '{{ __subject }}')),
    text: tokensIntact(text, segments.length) ? subjectEngine.parse(restore(text).replaceAll(TITLE_TOKEN, '')) : null,
  };
}

/** Every token exactly once and in order: control flow (`if` … `endif`) survives only then. */
function tokensIntact(compiled: string, count: number): boolean {
  const found = [...compiled.matchAll(TOKEN)].map((match) => Number(match[1]));
  return found.length === count && found.every((index, position) => index === position);
}

/** The HTML and text parts of one email from its compiled body. */
export function renderCompiled(
  compiled: CompiledBody,
  subject: string,
  scope: Record<string, unknown>,
  unsubscribeUrl: string,
  deadline: number,
): { html: string; text: string } {
  const withSubject = { ...scope, __subject: subject };
  try {
    const html = String(bodyEngine.renderSync(compiled.html, withSubject, { renderLimit: remainingMs(deadline) }));
    const text = compiled.text
      ? String(subjectEngine.renderSync(compiled.text, withSubject, { renderLimit: remainingMs(deadline) })).trim()
      : htmlToText(html).trim();
    return { html, text: withUnsubscribeLine(text, unsubscribeUrl) };
  } catch (error) {
    throw new TemplateRenderError(`Could not render the body: ${errorMessage(error)}`, { cause: error });
  }
}
