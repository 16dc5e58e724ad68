import { compile as compileHtmlToText } from 'html-to-text';

/** The plain-text part of an email, from its HTML. */
export const htmlToText = compileHtmlToText({
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

/** Belt and braces: a link mjml dropped or hid inside an image must still reach plain-text readers. */
export function withUnsubscribeLine(text: string, unsubscribeUrl: string): string {
  return text.includes(unsubscribeUrl) ? text : `${text}\n\nUnsubscribe: ${unsubscribeUrl}`;
}
