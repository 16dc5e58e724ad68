import type { ParsedReply } from './mime.js';

/*
 * What the person wrote, without the message they quote: the original email carries an "Unsubscribe" link and our
 * own words, which must not be read as theirs. Quotes are found the way mail clients mark them, in English, German,
 * French and Spanish: `>` lines, "On … wrote:" and its translations, Outlook's header block and separators, and in
 * HTML Gmail's and Apple Mail's blockquotes and Outlook's reply divider.
 */

const MAX_TEXT = 20_000;

// A line that starts the quoted original (everything from it on is theirs no more).
const QUOTE_START = [
  /^on\b.{1,300}\bwrote:?\s*$/i,
  /^am\b.{1,300}\bschrieb\b.{0,300}:?\s*$/i,
  /^le\b.{1,300}\ba écrit\s*:?\s*$/i,
  /^el\b.{1,300}\bescribió:?\s*$/i,
  /^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}/i,
  /^_{10,}\s*$/,
];
// Outlook's block: "From: …" followed within two lines by "Sent:" (or its translations).
const FROM_LINE = /^\*?(from|von|de)\s*:\*?\s/i;
const SENT_LINE = /^\*?(sent|date|gesendet|datum|envoyé|date d'envoi|enviado|fecha)\s*:/i;

/** The new text of a reply, plain, at most 20,000 characters. */
export function newText(reply: Pick<ParsedReply, 'text' | 'html'>): string {
  // An empty text part beside HTML (some clients send one) says nothing: the HTML is the message then.
  const text = reply.text?.trim() ? reply.text : htmlToText(cutHtml(reply.html ?? ''));
  return cutText(text).slice(0, MAX_TEXT).trim();
}

function cutText(text: string): string {
  const lines = text.slice(0, MAX_TEXT * 5).split(/\r?\n/);
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // Gmail wraps a long "On … wrote:" over two lines.
    const joined = `${line} ${lines[i + 1]?.trim() ?? ''}`;
    if (QUOTE_START.some((p) => p.test(line)) || (/^(on|am|le|el)\b/i.test(line) && QUOTE_START.slice(0, 4).some((p) => p.test(joined)))) break;
    if (FROM_LINE.test(line) && lines.slice(i + 1, i + 4).some((next) => SENT_LINE.test(next.trim()))) break;
    if (line.startsWith('>')) continue;
    kept.push(lines[i]!);
  }
  return kept.join('\n');
}

// Where a client's HTML quote begins: Gmail, Apple Mail and Thunderbird blockquotes, Outlook's divider.
const HTML_QUOTE = /<div[^>]*class=["'][^"']*gmail_quote|<blockquote|<div[^>]*id=["'](divRplyFwdMsg|appendonsend)|<hr[\s>/]/i;

function cutHtml(html: string): string {
  const limited = html.slice(0, MAX_TEXT * 10);
  const at = limited.search(HTML_QUOTE);
  return at < 0 ? limited : limited.slice(0, at);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<br\s*\/?>|<\/(p|div|li|tr|h\d)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#\d{1,6}|#x[0-9a-f]{1,6}|[a-z]{2,6});/gi, (entity, name: string) => {
      if (name.startsWith('#')) {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
      }
      return ENTITIES[name.toLowerCase()] ?? entity;
    });
}
