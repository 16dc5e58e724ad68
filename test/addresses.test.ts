import * as fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { displayName, sesAddress, sesMailbox } from '../src/core/mailbox.js';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startFaultProxy, type FaultProxy, type ProxiedCall } from './helpers/fault-proxy.js';
import { errorOf, ok, type GraphQLResponse } from './helpers/graphql.js';
import { startMailbox, type SesMailbox } from './helpers/ses.js';

/*
 * SES has no SMTPUTF8: a display name beyond ASCII must be RFC 2047 encoded-words, an internationalized domain
 * punycode, and a local part ASCII. The emulator accepts anything, so these tests read the SendEmail request the
 * real SES v2 client puts on the wire (a proxy in front of the emulator records it as SES would receive it) and
 * decode it back with a decoder of their own.
 */

interface SendEmailBody {
  FromEmailAddress: string;
  Destination: { ToAddresses: string[] };
  ReplyToAddresses?: string[];
  EmailTags: { Name: string; Value: string }[];
}

const ENCODED_WORD = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** RFC 2047/5322 display name back to text: encoded-words (each valid UTF-8 on its own, at most 75 characters), quoted-string, or atoms. */
function decodeDisplayName(raw: string): string {
  if (raw.startsWith('"')) {
    expect(raw.endsWith('"')).toBe(true);
    return raw.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (!raw.includes('=?')) return raw;
  return raw
    .split(' ')
    .map((word) => {
      expect(word.length).toBeLessThanOrEqual(75);
      const base64 = ENCODED_WORD.exec(word)?.[1];
      expect(base64, `an encoded-word: ${word}`).toBeDefined();
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(base64!, 'base64'));
    })
    .join(''); // whitespace between adjacent encoded-words is not part of the text (RFC 2047 §6.2)
}

/** A mailbox header value into its decoded display name (null without one) and its address. */
function decodeMailbox(value: string): { name: string | null; address: string } {
  expect(value).toMatch(PRINTABLE_ASCII);
  const named = /^(.+) <([^<>]+)>$/.exec(value);
  return named ? { name: decodeDisplayName(named[1]!), address: named[2]! } : { name: null, address: value };
}

describe('display names and addresses as SES takes them', () => {
  it.each([
    ['Sam at Northwind', 'Sam at Northwind'],
    ['Acme, "The Best" Inc.', '"Acme, \\"The Best\\" Inc."'],
    ['back\\slash', '"back\\\\slash"'],
    ['=?UTF-8?B?QQ==?=', '"=?UTF-8?B?QQ==?="'],
    ['Müller GmbH', '=?UTF-8?B?TcO8bGxlciBHbWJI?='],
    ['line\r\nBcc: victim@example.com', '"line Bcc: victim@example.com"'],
    ['\r\n\t', ''],
  ])('%j is %j', (name, expected) => {
    expect(displayName(name)).toBe(expected);
  });

  it('a long name beyond ASCII is split into encoded-words of at most 75 characters, never inside a character', () => {
    for (const name of ['株式会社テスト'.repeat(12), 'Ä'.repeat(100), '👩‍👩‍👧‍👦 Familie Groß '.repeat(8).trim(), `${'a'.repeat(44)}é${'b'.repeat(30)}`]) {
      const encoded = displayName(name);
      expect(encoded.split(' ').length).toBeGreaterThan(1);
      expect(decodeDisplayName(encoded)).toBe(name);
    }
  });

  it('any name at all: printable ASCII, one line, and it decodes back to the name (controls as spaces)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (name) => {
        const mailbox = sesMailbox(name, 'a@example.com');
        expect(mailbox).toMatch(PRINTABLE_ASCII);
        const clean = name
          .toWellFormed()
          // eslint-disable-next-line no-control-regex -- the control characters are what is tested
          .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
          .replace(/\s+/g, ' ')
          .trim();
        expect(decodeMailbox(mailbox)).toEqual({ name: clean === '' ? null : clean, address: 'a@example.com' });
      }),
      { numRuns: 500 },
    );
  });

  it('domains go to punycode; a local part beyond ASCII or outside dot-atom cannot be sent', () => {
    expect(sesAddress('info@bücher.example')).toBe('info@xn--bcher-kva.example');
    expect(sesAddress('hello@例え.テスト')).toBe('hello@xn--r8jz45g.xn--zckzah');
    expect(sesMailbox('株式会社テスト', 'info@bücher.example')).toBe('=?UTF-8?B?5qCq5byP5Lya56S+44OG44K544OI?= <info@xn--bcher-kva.example>');
    expect(sesMailbox(null, 'a@example.com')).toBe('a@example.com');
    for (const address of ['müller@example.de', '.a@example.com', 'a..b@example.com', 'a,b@example.com', 'a>b@example.com', 'a@exa<mple.com']) {
      expect(() => sesAddress(address), address).toThrow(/The address/);
    }
  });

  it('a domain whose punycode is not letters, digits and inner hyphens cannot be sent (node lets these through)', () => {
    for (const address of ['a@x.com,y.com', 'a@(c)x.com', 'a@x..com', 'a@x.com.', 'a@-x.com', 'a@x-.com', 'a@x!.com']) {
      expect(() => sesAddress(address), address).toThrow(/domain/);
    }
    expect(sesAddress('a@ex-ample.co.uk')).toBe('a@ex-ample.co.uk');
  });
});

describe('SendEmail on the wire for names in German, Japanese and with quotes and commas', () => {
  let mailbox: SesMailbox;
  let proxy: FaultProxy;
  let t: TestApp;
  let dispatcher: Dispatcher;
  let counter = 0;

  beforeAll(async () => {
    mailbox = await startMailbox();
    proxy = await startFaultProxy(mailbox.url, () => undefined);
    t = await startTestApp({ SES_MAX_SEND_RATE: '0' });
    const provider = createSesProvider(t.app.config, proxy.url);
    dispatcher = new Dispatcher({ orm: t.app.orm, clock: t.clock, provider, config: t.app.config, logger: t.app.logger, workerId: 'addresses-test' });
  });
  beforeEach(() => {
    t.clock.set(new Date());
  });
  afterAll(async () => {
    await t?.dispose();
    await proxy?.dispose();
    await mailbox?.dispose();
  });

  /** A company with this From name and a Reply-To, whose lead at `to` gets its welcome email: the SendEmail call. */
  async function sendFrom(fromName: string, to: string): Promise<{ call: ProxiedCall; body: SendEmailBody; fromAddress: string }> {
    counter += 1;
    const fromAddress = `team${counter}@example.com`;
    const { createCompany } = ok(
      await t.operator(`mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id fromName } }`, {
        input: { name: `Addresses ${counter}`, fromAddress, fromName, replyTo: `reply${counter}@example.com` },
      }),
    );
    expect(createCompany.fromName).toBe(fromName);
    const { createApiKey } = ok(await t.operator(`mutation($c: ID!) { createApiKey(companyId: $c, name: "t") { secret } }`, { c: createCompany.id as string }));
    ok(await t.as(createApiKey.secret as string)(`mutation($e: String!) { createLead(input: { email: $e }) { id } }`, { e: to }));
    proxy.calls.splice(0);
    await dispatcher.dispatchDue();
    const call = proxy.calls.find((c) => c.path === '/v2/email/outbound-emails')!;
    expect(call).toBeDefined();
    const body = JSON.parse(call.body) as SendEmailBody;
    expect(body.EmailTags.find((tag) => tag.Name === 'company_id')?.Value).toBe(createCompany.id);
    return { call, body, fromAddress };
  }

  it.each([
    ['German', 'Müller GmbH', 'info@bücher.example', 'info@xn--bcher-kva.example'],
    ['Japanese', '株式会社テスト', 'kontakt@例え.テスト', 'kontakt@xn--r8jz45g.xn--zckzah'],
    ['quotes and commas', 'Acme, "The Best" Inc.', 'lead@example.com', 'lead@example.com'],
  ])('%s: From, Reply-To and To are encoded as SES requires, and decode back', async (_label, fromName, to, wireTo) => {
    const { call, body, fromAddress } = await sendFrom(fromName, to);
    expect(call.headers['content-type']).toMatch(/^application\/json/);
    expect(call.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);

    expect(decodeMailbox(body.FromEmailAddress)).toEqual({ name: fromName, address: fromAddress });
    expect(body.Destination.ToAddresses).toEqual([wireTo]);
    expect(body.ReplyToAddresses).toHaveLength(1);
    expect(decodeMailbox(body.ReplyToAddresses![0]!)).toEqual({ name: null, address: expect.stringMatching(/^reply\d+@example\.com$/) });
    // A display name with specials is one quoted-string: SES must not read "Acme" and "The Best" Inc. as two mailboxes.
    if (fromName.includes(',')) expect(body.FromEmailAddress).toBe(`"Acme, \\"The Best\\" Inc." <${fromAddress}>`);
    else expect(body.FromEmailAddress).toMatch(/^=\?UTF-8\?B\?/);
  });
});

describe('addresses SES cannot send are refused at input, naming the field', () => {
  let t: TestApp;
  let client: ReturnType<TestApp['as']>;

  function expectField(response: GraphQLResponse, field: string, message?: RegExp) {
    const error = errorOf(response);
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const fields = error.extensions?.fields ?? [];
    expect(fields.map((f) => f.field)).toEqual([field]);
    if (message) expect(fields[0]!.message).toMatch(message);
  }

  beforeAll(async () => {
    t = await startTestApp();
    const { createCompany } = ok(
      await t.operator(`mutation { createCompany(input: { name: "Intake", fromAddress: "intake@example.com", fromName: "Müller GmbH" }) { id } }`),
    );
    const { createApiKey } = ok(await t.operator(`mutation($c: ID!) { createApiKey(companyId: $c, name: "t") { secret } }`, { c: createCompany.id as string }));
    client = t.as(createApiKey.secret as string);
  });
  afterAll(() => t?.dispose());

  it('a lead with a UTF-8 local part: createLead and updateLead are input.email; an import row is INVALID', async () => {
    const create = `mutation($e: String!) { createLead(input: { email: $e }) { id email } }`;
    expectField(await client(create, { e: 'müller@example.de' }), 'input.email', /SMTPUTF8/);
    expectField(await client(create, { e: 'a..b@example.de' }), 'input.email');
    const { createLead } = ok(await client(create, { e: 'info@bücher.example' }));
    expect(createLead.email).toBe('info@bücher.example'); // stored as given; sent in punycode

    const update = `mutation($id: ID!, $e: String!) { updateLead(id: $id, input: { email: $e }) { id } }`;
    expectField(await client(update, { id: createLead.id as string, e: 'jürgen@example.de' }), 'input.email', /SMTPUTF8/);

    const { importLeads } = ok(
      await client(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created invalid rows { status errors { field message } } } }`, {
        i: [{ email: 'ok@example.de' }, { email: 'größe@example.de' }],
      }),
    );
    expect(importLeads).toMatchObject({ created: 1, invalid: 1 });
    expect(importLeads.rows[1].status).toBe('INVALID');
    expect(importLeads.rows[1].errors[0].message).toMatch(/SMTPUTF8/);
  });

  it('a company From or Reply-To that SES refuses is input.fromAddress / input.replyTo', async () => {
    const query = `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }`;
    expectField(await t.operator(query, { input: { name: 'Dots', fromAddress: '.team@example.com' } }), 'input.fromAddress');
    expectField(await t.operator(query, { input: { name: 'Dots', fromAddress: 'team@example.com', replyTo: 'a..b@example.com' } }), 'input.replyTo');
    // Beyond ASCII the EmailAddress scalar already refuses it (an IDN domain is given in punycode, as SES lists it).
    expect(errorOf(await t.operator(query, { input: { name: 'Umlaut', fromAddress: 'müller@example.de' } })).extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});
