// The default responsive layout that HTML fragments are placed in, and the unsubscribe footer every email carries.

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
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
export function assembleMjml(renderedBody: string, subject: string, unsubscribeUrl: string): string {
  const footer = linksTo(renderedBody, unsubscribeUrl) ? '' : footerSection(unsubscribeUrl);
  if (!isMjml(renderedBody)) return defaultLayout(renderedBody, subject, footer);
  return footer ? insertBeforeBodyEnd(renderedBody, footer) : renderedBody;
}

// ---------------------------------------------------------------------------
