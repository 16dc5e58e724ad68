import { Liquid, Tag, type Emitter, type FS } from 'liquidjs';

/** Longest subject template accepted, in characters. */
export const MAX_SUBJECT_LENGTH: number = 500;
/** Longest body template accepted, in characters. */
export const MAX_BODY_LENGTH: number = 100_000;

/** The two templates of a step; each has its own engine and length limit. */
export type TemplatePart = 'subject' | 'body';

/** One reason a template cannot be saved; `variable` names the offending variable when there is one. */
export interface TemplateProblem {
  message: string;
  variable?: string;
}

/** Liquid markup in a template: raw blocks first (kept whole), then outputs and tags. */
export const LIQUID_MARKUP = /\{%-?\s*raw\s*-?%\}[\s\S]*?\{%-?\s*endraw\s*-?%\}|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/** Raised by renderEmail when a step cannot be turned into an email. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

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
  exists: () => Promise.resolve(false),
  existsSync: () => false,
  readFile: (file) => Promise.reject(new Error(`templates cannot read files (${file})`)),
  readFileSync: (file) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_dir, file) => file,
  contains: () => Promise.resolve(false),
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
export const subjectEngine = createEngine(undefined);
/** Bodies become HTML, so every interpolated value is HTML-escaped unless the author writes `| raw`. */
export const bodyEngine = createEngine('escape');

export function engineFor(part: TemplatePart): Liquid {
  return part === 'subject' ? subjectEngine : bodyEngine;
}

/** The length limit of a part, in characters. */
export function maxLength(part: TemplatePart): number {
  return part === 'subject' ? MAX_SUBJECT_LENGTH : MAX_BODY_LENGTH;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
