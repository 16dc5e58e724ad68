import { signToken } from './tokens.js';

export interface InstrumentedHtml {
  html: string;
  /** Original URL of each rewritten link, by the index its tracking token carries. */
  links: string[];
}

const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2/gi;

/**
 * Rewrites an email's links to click-tracking URLs and adds the open pixel; their tokens are encrypted, so no
 * internal id shows. Unsubscribe, `mailto:` and `tel:` links and in-page anchors stay as they are: a tracked
 * unsubscribe link would be followed by scanners, and the others are not web pages. Each link gets its own
 * index, so a click can only lead where the email did.
 */
export function instrumentHtml(html: string, input: { emailId: string; publicUrl: string; secret: string; unsubscribeUrl: string }): InstrumentedHtml {
  const links: string[] = [];
  const rewritten = html.replace(ANCHOR_HREF, (match, prefix: string, quote: string, rawHref: string) => {
    const href = decodeEntities(rawHref.trim());
    if (!/^https?:\/\//i.test(href) || href === input.unsubscribeUrl) return match;
    links.push(href);
    const token = signToken(input.secret, { emailId: input.emailId, kind: 'click', link: links.length - 1 });
    return `${prefix}${quote}${input.publicUrl}/t/c/${token}${quote}`;
  });
  const pixel = `<img src="${input.publicUrl}/t/o/${signToken(input.secret, { emailId: input.emailId, kind: 'open' })}.gif" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
  const closing = rewritten.lastIndexOf('</body>');
  return { html: closing === -1 ? rewritten + pixel : `${rewritten.slice(0, closing)}${pixel}${rewritten.slice(closing)}`, links };
}

function decodeEntities(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}
