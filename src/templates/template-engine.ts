import { Liquid, Tag, type Emitter, type FS } from 'liquidjs';
import { SequenceErrorReason } from '../core/error-reasons.js';
import { DomainError } from '../core/errors.js';

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
  /** The template is too costly to render (time, memory, or the request's render budget): TEMPLATE_TOO_SLOW. */
  slow?: boolean;
}

/** Liquid markup in a template: raw blocks first (kept whole), then outputs and tags. */
export const LIQUID_MARKUP = /\{%-?\s*raw\s*-?%\}[\s\S]*?\{%-?\s*endraw\s*-?%\}|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/** Raised by renderEmail when a step cannot be turned into an email. */
export class TemplateRenderError extends Error {
  override name = 'TemplateRenderError';
}

/**
 * A render (or a save-time check) that is too costly: over its time limit, its memory limit, or the render budget
 * of the request or batch it belongs to. BAD_USER_INPUT with reason TEMPLATE_TOO_SLOW.
 */
export class TemplateTooSlowError extends DomainError {
  constructor(
    message: string,
    /** Refused before running (the budget was spent, or too many renders were waiting): the template may be fine. */
    readonly notRun = false,
  ) {
    super('invalid', SequenceErrorReason.TEMPLATE_TOO_SLOW, message);
    this.name = 'TemplateTooSlowError';
  }
}

/** True for liquidjs's own DoS limits (time, memory) and a blown stack: the template is too costly, not wrong. */
export function isLimitError(error: unknown): boolean {
  if (error instanceof RangeError) return true;
  const text = error instanceof Error ? `${error.message} ${error.cause instanceof Error ? error.cause.message : ''}` : String(error);
  return /limit exceeded|Maximum call stack/i.test(text);
}

/** Liquid's renderLimit for a render that must end by `deadline` (at least 1 ms: 0 would mean no limit). */
export function remainingMs(deadline: number): number {
  return Math.max(1, Math.floor(deadline - Date.now()));
}

// The engine's own default; renders pass the time left before their deadline (render-inline.ts).
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
