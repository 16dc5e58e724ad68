import type { ParsedReply } from './mime.js';
import { newText } from './reply-text.js';
import { ReplyKind } from './outcome.js';

/*
 * How a matched message is read, from its headers and words only (pure; the tests hold every rule). Order matters:
 * a delivery report is never a person's answer; an auto-reply is recognised by its headers (RFC 3834 and the
 * de-facto ones of Exchange and others) or its subject, in English, German, French and Spanish; a person's answer
 * asking to be removed is a removal request; anything else is a person's reply.
 */

export type Classification =
  | { kind: ReplyKind.DELIVERY_REPORT; permanent: boolean; status: string | null; recipient: string | null; diagnostic: string }
  | { kind: ReplyKind.AUTO_REPLY; why: string; text: string }
  | { kind: ReplyKind.REMOVAL; phrase: string; text: string }
  | { kind: ReplyKind.HUMAN; text: string };

const AUTO_SUBJECT = new RegExp(
  [
    // English
    'out of (the )?office',
    'automatic reply',
    'auto[- ]?reply',
    'auto[- ]?response',
    'away from (the )?office',
    'on vacation',
    'on holiday',
    // German
    'abwesenheit',
    'automatische antwort',
    'nicht im büro',
    'außer haus',
    'urlaub',
    // French
    'réponse automatique',
    'absence du bureau',
    "message d'absence",
    'absent\\b',
    // Spanish
    'respuesta automática',
    'fuera de la oficina',
    'ausente',
    'respuesta de ausencia',
  ].join('|'),
  'i',
);

const REMOVAL = new RegExp(
  [
    // English
    '\\bunsubscribe\\b',
    '\\bremove me\\b',
    '\\btake me off\\b',
    '\\bopt me out\\b',
    '\\bstop (e-?mailing|sending|contacting) me\\b',
    "\\b(do not|don't|dont) (e-?mail|contact|write to) me\\b",
    '\\bno more e-?mails\\b',
    // German
    '\\babmelden\\b',
    '\\baustragen\\b',
    '\\babbestellen\\b',
    '\\b(entfernen|löschen) sie mich\\b',
    '\\btragen sie mich\\b.{0,30}\\baus\\b',
    '\\bkeine (e-?mails|mails|nachrichten) mehr\\b',
    // French
    '\\bdésabonne[rz]?\\b',
    '\\bdésinscri(re|vez|ption)\\b',
    '\\b(retirez|supprimez|enlevez)-moi\\b',
    '\\bne plus recevoir\\b',
    '\\bne me contactez plus\\b',
    // Spanish
    '\\bdar(me)? de baja\\b',
    '\\bdéme de baja\\b',
    '\\bcancelar (la |mi )?suscripción\\b',
    '\\belimin(ar|e|en)me\\b',
    '\\bquit(ar|en)me de\\b',
    '\\bno (quiero|deseo) recibir\\b',
    '\\bdejen de (enviar|escribir)\\b',
  ].join('|'),
  'i',
);

/** Reads a message that answers one of our emails. */
export function classify(reply: ParsedReply): Classification {
  if (reply.contentType === 'multipart/report' && reply.reportType === 'delivery-status') return deliveryReport(reply);
  const text = newText(reply);
  const why = autoReplyHeader(reply.headers) ?? (AUTO_SUBJECT.test(reply.subject) ? `subject "${reply.subject.slice(0, 100)}"` : null);
  if (why) return { kind: ReplyKind.AUTO_REPLY, why, text };
  const removal = REMOVAL.exec(`${reply.subject.replace(/^((re|aw|sv|rv|r|antw|réf|ref)\s*:\s*)+/i, '')}\n${text}`);
  if (removal) return { kind: ReplyKind.REMOVAL, phrase: removal[0], text };
  return { kind: ReplyKind.HUMAN, text };
}

/** The header that marks a message automatic, as "Name: value", or null. */
export function autoReplyHeader(headers: Map<string, string>): string | null {
  const value = (name: string) => headers.get(name)?.toLowerCase();
  const submitted = value('auto-submitted');
  if (submitted && submitted !== 'no') return `Auto-Submitted: ${submitted}`;
  for (const name of ['x-autoreply', 'x-autorespond', 'x-auto-response-suppress']) {
    const found = value(name);
    if (found !== undefined) return `${name}: ${found}`;
  }
  const precedence = value('precedence');
  if (precedence && /^(auto_reply|bulk|junk)$/.test(precedence)) return `Precedence: ${precedence}`;
  return null;
}

/** A DSN's first failed (else delayed) recipient: permanent when its status is 5.x.x (RFC 3463). */
function deliveryReport(reply: ParsedReply): Classification {
  // mailparser reads a message/delivery-status part as text of the message: its fields are then in `text`.
  const fields = (reply.deliveryStatus ?? reply.text ?? '').split(/\r?\n\r?\n/).map((block) => {
    const map = new Map<string, string>();
    for (const line of block.split(/\r?\n/)) {
      const at = line.indexOf(':');
      if (at > 0) map.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
    }
    return map;
  });
  const recipient = fields.find((f) => f.get('action')?.toLowerCase() === 'failed') ?? fields.find((f) => f.has('status')) ?? new Map<string, string>();
  const status = /^[245]\.\d{1,3}\.\d{1,3}/.exec(recipient.get('status') ?? '')?.[0] ?? null;
  const permanent = status ? status.startsWith('5') : recipient.get('action')?.toLowerCase() === 'failed';
  const address = recipient.get('final-recipient') ?? recipient.get('original-recipient') ?? '';
  return {
    kind: ReplyKind.DELIVERY_REPORT,
    permanent,
    status,
    recipient: address.replace(/^[a-z0-9-]+;\s*/i, '').toLowerCase() || null,
    diagnostic: (recipient.get('diagnostic-code') ?? status ?? 'delivery report').slice(0, 500),
  };
}
