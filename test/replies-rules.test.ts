import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { readReplyToken, replyAddress, replyToken, tokenOfAddress } from '../src/delivery/reply-address.js';
import { ConfigError, loadConfig } from '../src/core/config.js';
import { uuidv7 } from '../src/core/ids.js';
import { classify } from '../src/replies/classify.js';
import { composeForward, FORWARD_LEAD_HEADER, FORWARD_SEQUENCE_HEADER } from '../src/replies/forward.js';
import type { MatchedEmail } from '../src/replies/match.js';
import { parseReply, type ParsedReply } from '../src/replies/mime.js';
import { ReplyKind } from '../src/replies/outcome.js';
import { returnDate } from '../src/replies/return-date.js';
import { compose } from './helpers/inbound.js';
import { revealsId } from './helpers/ses.js';

/* The pure rules of replies: reply tokens, classification in four languages, return dates, the forward's headers. */

const SECRET = 'a-test-secret-of-at-least-32-characters!!';

function reply(overrides: Partial<ParsedReply>): ParsedReply {
  return {
    from: { address: 'ada@example.org', name: 'Ada' },
    subject: 'Re: Welcome',
    threadIds: [],
    headers: new Map(),
    contentType: 'text/plain',
    reportType: null,
    text: '',
    html: null,
    deliveryStatus: null,
    returnedHeaders: null,
    ...overrides,
  };
}

describe('reply addresses', () => {
  it('round-trip in any letter case, reveal nothing, and refuse forgeries and other secrets', () => {
    const id = uuidv7();
    const token = replyToken(SECRET, id);
    expect(token).toMatch(/^[a-z2-7]{34}$/);
    expect(readReplyToken(SECRET, token)).toBe(id);
    expect(readReplyToken(SECRET, token.toUpperCase())).toBe(id);
    expect(revealsId(token, id)).toBe(false);
    expect(readReplyToken('another-secret-of-at-least-32-characters', token)).toBeNull();
    for (let i = 0; i < token.length; i++) {
      const altered = `${token.slice(0, i)}${token[i] === 'a' ? 'b' : 'a'}${token.slice(i + 1)}`;
      const read = readReplyToken(SECRET, altered);
      // The last character carries 2 spare bits: an alteration there may decode to the same bytes, never to another id.
      expect(read === null || (i === token.length - 1 && read === id)).toBe(true);
    }
    expect(readReplyToken(SECRET, 'a'.repeat(34))).toBeNull();
    expect(readReplyToken(SECRET, `${token}x`)).toBeNull();
    const address = replyAddress(SECRET, 'replies.example.com', id);
    expect(tokenOfAddress(address.toUpperCase(), 'replies.example.com')).toBe(token);
    expect(tokenOfAddress(address.replace('@', '+tag@'), 'replies.example.com')).toBe(token);
    expect(tokenOfAddress(address, 'other.example.com')).toBeNull();
    expect(tokenOfAddress('sales@replies.example.com', 'replies.example.com')).toBeNull();
  });
});

describe('classification', () => {
  it.each([
    ['Out of Office: Welcome', 'en'],
    ['Automatic reply: Welcome', 'en'],
    ['Abwesenheitsnotiz: Willkommen', 'de'],
    ['Automatische Antwort: Willkommen', 'de'],
    ['Réponse automatique : Bienvenue', 'fr'],
    ["Message d'absence", 'fr'],
    ['Respuesta automática: Bienvenido', 'es'],
    ['Fuera de la oficina', 'es'],
  ])('subject %s (%s) is an auto-reply', (subject) => {
    expect(classify(reply({ subject, text: 'Thanks' })).kind).toBe(ReplyKind.AUTO_REPLY);
  });

  it.each([
    ['auto-submitted', 'auto-replied'],
    ['auto-submitted', 'auto-generated'],
    ['x-autoreply', 'yes'],
    ['x-autorespond', 'Out of office'],
    ['precedence', 'auto_reply'],
    ['precedence', 'bulk'],
    ['precedence', 'junk'],
    ['x-auto-response-suppress', 'All'],
  ])('header %s: %s marks an auto-reply', (name, value) => {
    expect(classify(reply({ headers: new Map([[name, value]]), text: 'Hello' })).kind).toBe(ReplyKind.AUTO_REPLY);
  });

  it('Auto-Submitted: no and Precedence: list are a person', () => {
    expect(classify(reply({ headers: new Map([['auto-submitted', 'no']]), text: 'Hi' })).kind).toBe(ReplyKind.HUMAN);
    expect(classify(reply({ headers: new Map([['precedence', 'list']]), text: 'Hi' })).kind).toBe(ReplyKind.HUMAN);
  });

  it.each([
    'Please remove me from your list.',
    'unsubscribe',
    "Don't email me again",
    'Bitte tragen Sie mich aus Ihrem Verteiler aus.',
    'Bitte abmelden.',
    'Ich möchte keine E-Mails mehr erhalten.',
    'Merci de me désabonner.',
    'Retirez-moi de votre liste svp',
    'Por favor, darme de baja.',
    'No quiero recibir más correos.',
  ])('"%s" asks to be removed', (text) => {
    expect(classify(reply({ text })).kind).toBe(ReplyKind.REMOVAL);
  });

  it('words only quoted from our email do not count: the quoted Unsubscribe link is ours', () => {
    const quoted = 'Sounds good!\n\nOn Mon, Dec 1, 2026 at 9:00 AM Team <team@example.com> wrote:\n> Hi Ada\n> Unsubscribe: https://x/u/abc';
    expect(classify(reply({ text: quoted }))).toEqual({ kind: ReplyKind.HUMAN, text: 'Sounds good!' });
    for (const marker of [
      'Am 01.12.2026 um 09:00 schrieb Team <team@example.com>:',
      'Le lun. 1 déc. 2026 à 09:00, Team a écrit :',
      'El lun, 1 dic 2026 a las 9:00, Team escribió:',
    ]) {
      expect(classify(reply({ text: `Gerne!\n\n${marker}\nUnsubscribe` })).kind).toBe(ReplyKind.HUMAN);
    }
    expect(classify(reply({ text: '', html: '<p>Yes!</p><blockquote>unsubscribe</blockquote>' }))).toEqual({ kind: ReplyKind.HUMAN, text: 'Yes!' });
  });

  it('a delivery report is read from its delivery-status fields', () => {
    const c = classify(
      reply({
        contentType: 'multipart/report',
        reportType: 'delivery-status',
        text: 'Sorry.\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; Ada@Example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 no such user',
      }),
    );
    expect(c).toEqual({
      kind: ReplyKind.DELIVERY_REPORT,
      permanent: true,
      status: '5.1.1',
      recipient: 'ada@example.org',
      diagnostic: 'smtp; 550 no such user',
    });
    const delayed = classify(
      reply({ contentType: 'multipart/report', reportType: 'delivery-status', text: 'Final-Recipient: rfc822; a@b.c\nAction: delayed\nStatus: 4.4.1' }),
    );
    expect(delayed).toMatchObject({ kind: ReplyKind.DELIVERY_REPORT, permanent: false, status: '4.4.1' });
  });
});

describe('return dates', () => {
  const received = new Date('2026-12-02T10:00:00Z');
  it.each([
    ['Ich bin bis einschließlich 14. Dezember 2026 nicht im Büro.', 'Europe/Berlin', '2026-12-15T08:00:00.000Z'],
    ['Ich bin ab dem 15.12.2026 wieder erreichbar.', 'Europe/Berlin', '2026-12-15T08:00:00.000Z'],
    ["I'm out until December 10 and back on Monday, December 14.", 'America/New_York', '2026-12-14T14:00:00.000Z'],
    ["Je suis absent jusqu'au 11 décembre.", 'Europe/Paris', '2026-12-12T08:00:00.000Z'],
    ['Estoy fuera de la oficina hasta el 9 de diciembre.', 'Europe/Madrid', '2026-12-10T08:00:00.000Z'],
  ])('"%s" (%s) → %s', (text, zone, expected) => {
    expect(returnDate(text, received, zone).at.toISOString()).toBe(expected);
  });

  it('no date, a past date or one years away: 7 days later at 09:00', () => {
    for (const text of ['I am away.', 'I was away on November 3.', 'Back in 2031.']) {
      expect(returnDate(text, received, 'UTC')).toEqual({ at: new Date('2026-12-09T09:00:00.000Z'), source: null });
    }
  });
});

describe('the forwarded message', () => {
  it('names the lead and the sequence in headers, answers to the lead, and attaches the original as message/rfc822', async () => {
    const original = await compose({ from: 'Ada <ada@example.org>', to: 'r-x@replies.example.com', subject: 'Re: Welcome', text: 'Interested' });
    const email = {
      id: uuidv7(),
      email_number: 2,
      sequence_name: 'Welcome\r\nBcc: evil@example.com',
      lead_first_name: 'Ada',
      lead_last_name: 'Müller',
      company_from_address: 'team@example.com',
      company_reply_to: 'sales@example.com',
    } as MatchedEmail;
    const { to, raw } = await composeForward({
      email,
      from: { address: 'ada@example.org', name: 'Ada' },
      subject: 'Re: Welcome',
      text: 'Interested',
      raw: original,
      note: null,
    });
    expect(to).toBe('sales@example.com');
    const text = raw.toString('utf8');
    expect(text).toMatch(/Content-Type: message\/rfc822/);
    expect(text).not.toMatch(/^Bcc:/m);
    const parsed = await simpleParser(raw);
    // Beyond ASCII, as RFC 2047 encoded-words (a raw UTF-8 header is refused by some servers).
    const lead = parsed.headers.get(FORWARD_LEAD_HEADER.toLowerCase());
    expect(lead).toMatch(/^=\?UTF-8\?Q\?Ada_M=C3=BCller_=3Cada=40example/);
    expect(parsed.headers.get(FORWARD_SEQUENCE_HEADER.toLowerCase())).toBe('Welcome Bcc: evil@example.com (email 2)');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.replyTo?.value[0]?.address).toBe('ada@example.org');
    expect(parsed.from?.value[0]?.address).toBe('team@example.com');
  });
});

describe('MIME limits', () => {
  it('a nesting bomb is refused before parsing; broken bytes parse without throwing', async () => {
    let bomb = 'Content-Type: text/plain\r\n\r\nhi\r\n';
    for (let depth = 0; depth < 200; depth++) bomb = `Content-Type: multipart/mixed; boundary="b${depth}"\r\n\r\n--b${depth}\r\n${bomb}\r\n--b${depth}--\r\n`;
    expect(await parseReply(Buffer.from(`From: a@b.c\r\n${bomb}`))).toEqual({ ok: false, reason: 'too-complex' });
    const broken = await parseReply(Buffer.from([0x46, 0x72, 0x6f, 0x6d, 0x3a, 0, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0xc3, 0x28, 0]));
    expect(broken.ok).toBe(true);
    if (broken.ok) expect(broken.reply.text ?? '').not.toContain('\u0000');
  });
});

describe('configuration', () => {
  const production = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://u:p@db:5432/app',
    PUBLIC_URL: 'https://app.example.com',
    SES_FROM_ADDRESS: 'team@example.com',
    TRACKING_SECRET: 'x'.repeat(40),
    OPERATOR_TOKEN: 'y'.repeat(40),
  };
  it('reads the inbound domain, its topics, the size limit and the concurrency; refuses bad values', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      INBOUND_DOMAIN: 'Replies.Example.com',
      INBOUND_SNS_TOPIC_ARNS: 'arn:aws:sns:eu-west-1:123456789012:inbound',
    });
    expect(config.inbound).toEqual({
      domain: 'replies.example.com',
      snsTopicArns: ['arn:aws:sns:eu-west-1:123456789012:inbound'],
      maxMessageBytes: 153_600,
      concurrency: 8,
    });
    expect(loadConfig({ NODE_ENV: 'test' }).inbound.domain).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test', INBOUND_CONCURRENCY: '1' }).inbound.concurrency).toBe(1);
    for (const env of [
      { INBOUND_DOMAIN: 'not a domain' },
      { INBOUND_DOMAIN: '*.example.com' },
      { INBOUND_SNS_TOPIC_ARNS: 'arn:aws:sns:*' },
      { INBOUND_MAX_MESSAGE_BYTES: '10' },
      { INBOUND_CONCURRENCY: '0' },
      { INBOUND_CONCURRENCY: '65' },
      { INBOUND_CONCURRENCY: 'many' },
    ]) {
      expect(() => loadConfig({ NODE_ENV: 'test', ...env })).toThrow(ConfigError);
    }
  });

  it('production refuses an inbound domain without the topics its webhook accepts', () => {
    expect(() => loadConfig({ ...production, INBOUND_DOMAIN: 'replies.example.com' })).toThrow(/INBOUND_SNS_TOPIC_ARNS is required/);
    expect(
      loadConfig({ ...production, INBOUND_DOMAIN: 'replies.example.com', INBOUND_SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:in' }).inbound.domain,
    ).toBe('replies.example.com');
  });
});
