/**
 * Development: delivers a lead's reply by hand, so the whole flow can be seen without AWS (README, "Replies").
 * With `npm start` running in another terminal:
 *
 *   NODE_ENV=development npx tsx scripts/deliver-reply.ts [--kind reply|ooo|remove|bounce] [--email <email id>] [--text "…"]
 *
 * It answers the newest sent email (or `--email`) from its lead's address, as a mail client would (In-Reply-To its
 * Message-ID, to its Reply-To), builds the MIME message with nodemailer's MailComposer and hands it to the same code
 * `POST /webhooks/inbound` runs once an SNS message is verified. A reply is forwarded through the SES emulator (see
 * its mailbox), and the timeline, the score and the subscriptions show the rest.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import MimeNode from 'nodemailer/lib/mime-node/index.js';
import { loadConfigOrExit } from '../src/core/config.js';
import { openOrm } from '../src/db/orm.js';
import { replyAddress } from '../src/delivery/reply-address.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { processInbound } from '../src/replies/replies.service.js';

const { values } = parseArgs({ options: { kind: { type: 'string', default: 'reply' }, email: { type: 'string' }, text: { type: 'string' } } });
const config = loadConfigOrExit({ NODE_ENV: 'development', ...process.env });
// The embedded cluster `npm start` runs (src/db/embedded-postgres.ts), unless DATABASE_URL names another.
const orm = await openOrm(config.databaseUrl ?? `postgres://postgres:postgres@127.0.0.1:${config.embeddedPostgresPort}/lead_nurture`);
const provider = createSesProvider(config, config.ses.endpoint ?? `http://127.0.0.1:${config.ses.emulatorPort}`);
try {
  const [email] = await orm.em
    .fork()
    .getConnection()
    .execute<{ id: string; address: string; message_id: string; subject: string; reply_to: string }[]>(
      `select e.id, coalesce(e.to_address, l.email) as address, e.provider_message_id as message_id, coalesce(e.subject, '') as subject,
            coalesce(c.reply_to, c.from_address) as reply_to
     from sequence_email e join lead l on l.id = e.lead_id join company c on c.id = e.company_id
     where e.provider_message_id is not null ${values.email ? 'and e.id = ?' : ''} order by e.sent_at desc nulls last limit 1`,
      values.email ? [values.email] : [],
    );
  if (!email) throw new Error('No sent email found: create a lead first (its welcome email leaves at once), or pass --email <id>.');
  const to = config.inbound.domain ? replyAddress(config.trackingSecret.reveal(), config.inbound.domain, email.id) : email.reply_to;
  const raw = await message(values.kind ?? 'reply', { ...email, to }, values.text);
  const outcome = await processInbound(
    { orm, config, provider, now: new Date() },
    {
      sesMessageId: randomUUID(),
      recipients: [to],
      raw,
      // What SES says of a genuine sender (DKIM / SPF passed): the script stands in for the lead's own mail server.
      authenticated: true,
    },
  );
  process.stdout.write(`${values.kind} to email ${email.id} from ${email.address}: ${JSON.stringify(outcome)}\n`);
  process.stdout.write(`Sent mail: http://127.0.0.1:${config.ses.emulatorPort} (a forwarded reply is there); the lead's timeline shows the rest.\n`);
} finally {
  provider.dispose();
  await orm.close(true);
}

/** The MIME message a lead's mail client (or their mail server, for a bounce) would send. */
async function message(kind: string, email: { address: string; message_id: string; subject: string; to: string }, text: string | undefined): Promise<Buffer> {
  const thread = `<${email.message_id}@email.amazonses.com>`;
  const back = new Date(Date.now() + 5 * 86_400_000).toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric' });
  const base = { from: email.address, to: email.to, inReplyTo: thread, references: [thread], subject: `Re: ${email.subject}` };
  switch (kind) {
    case 'reply':
      return build(new MailComposer({ ...base, text: text ?? 'Thanks! This sounds interesting. Could we talk on Thursday?' }).compile());
    case 'remove':
      return build(new MailComposer({ ...base, text: text ?? 'Please remove me from your list.' }).compile());
    case 'ooo':
      return build(
        new MailComposer({
          ...base,
          subject: `Out of Office: ${email.subject}`,
          headers: { 'Auto-Submitted': 'auto-replied' },
          text: text ?? `I am out of the office until ${back} with limited access to email.`,
        }).compile(),
      );
    case 'bounce': {
      const root = new MimeNode('multipart/report; report-type=delivery-status');
      root.setHeader({ From: 'Mail Delivery System <mailer-daemon@example.net>', To: email.to, Subject: 'Undelivered Mail Returned to Sender' });
      root.createChild('text/plain').setContent(`Your message could not be delivered to <${email.address}>.`);
      root.createChild('message/delivery-status').setContent(`Final-Recipient: rfc822; ${email.address}\r\nAction: failed\r\nStatus: 5.1.1\r\n`);
      root.createChild('text/rfc822-headers').setContent(`To: ${email.address}\r\nMessage-ID: ${thread}\r\n`);
      return build(root);
    }
    default:
      throw new Error(`--kind must be reply, ooo, remove or bounce (got ${kind})`);
  }
}

function build(node: MimeNode): Promise<Buffer> {
  return new Promise((resolve, reject) => node.build((error, built) => (error ? reject(error) : resolve(built))));
}
