import { LIQUID_MARKUP, type TemplateProblem } from './template-engine.js';
import { isShortcut, SHORTCUTS } from './template-variables.js';

// Liquid markup (and raw blocks) are matched first and kept, so only bare `{word}` in text is converted.
const LEGACY_SCAN = new RegExp(`(${LIQUID_MARKUP.source})|\\{([a-z_]+)\\}`, 'g');

/** Rewrites `{first_name}` to `{{first_name}}`; unknown `{word}`s are left as text and listed. */
export function convertLegacyPlaceholders(source: string): { source: string; unknown: string[] } {
  const unknown: string[] = [];
  const converted = source.replace(LEGACY_SCAN, (match: string, liquid: string | undefined, word: string | undefined) => {
    if (liquid !== undefined || word === undefined) return match;
    if (isShortcut(word)) return `{{${word}}}`;
    if (!unknown.includes(word)) unknown.push(word);
    return match;
  });
  return { source: converted, unknown };
}

export function legacyProblem(word: string): TemplateProblem {
  return {
    message: `Unknown placeholder "{${word}}". Use one of ${SHORTCUTS.map((name) => `{${name}}`).join(', ')}, or {{ lead.attributes.${word} }} for a custom attribute.`,
    variable: word,
  };
}
