import { createRequire } from 'node:module';
import mjml2html from 'mjml';
import { errorMessage, TemplateRenderError, type TemplateProblem } from './template-engine.js';

// mjml 5's mjml2html converts the whole document; a check only needs to know whether it is valid MJML, so
// checks call mjml's own (synchronous) XML parser and validator directly. They are
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
export function mjmlProblems(mjml: string): TemplateProblem[] {
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
  return errors.filter(isValidationError).map((error) => ({ message: `MJML error near line ${error.line} (<${error.tagName}>): ${error.message}` }));
}

const MJML_OPTIONS = { validationLevel: 'soft', keepComments: false, ignoreIncludes: true } as const;

/** MJML to HTML; mjml's own failures become a TemplateRenderError. */
export async function mjmlToHtml(mjml: string): Promise<string> {
  try {
    const result = await mjml2html(mjml, MJML_OPTIONS);
    return result.html;
  } catch (error) {
    throw new TemplateRenderError(`The body is not valid MJML: ${errorMessage(error)}`, { cause: error });
  }
}
