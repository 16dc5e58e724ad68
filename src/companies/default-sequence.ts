/** One step of the default sequence, ready to be copied into a new company's sequence. */
export interface DefaultStep {
  delayDays: number;
  delayHours: number;
  subject: string;
  body: string;
}

interface StepCopy {
  /** Inbox preview line shown next to the subject. */
  preview: string;
  /** Body paragraphs (HTML allowed), after the greeting and before the button. */
  paragraphs: string[];
  cta: { label: string; url: string };
  /** Optional closing paragraph after the button. */
  closing?: string;
}

// Leads often arrive without a first name, so every greeting falls back to "Hi there".
const GREETING = 'Hi {{ first_name | default: "there" }},';
const SIGN_OFF = 'Best,<br />{{ company.from_name | default: company.name }}';

function text(content: string): string {
  return `        <mj-text>${content}</mj-text>`;
}

/** Shared layout so the five emails look like one series; only the copy differs per step. */
function mjmlBody(copy: StepCopy): string {
  const closing = copy.closing ? [text(copy.closing)] : [];
  return [
    '<mjml>',
    '  <mj-head>',
    `    <mj-preview>${copy.preview}</mj-preview>`,
    '    <mj-attributes>',
    '      <mj-all font-family="Helvetica, Arial, sans-serif" />',
    '      <mj-text font-size="16px" line-height="1.6" color="#1f2933" padding="0 0 16px" />',
    '      <mj-button background-color="#2563eb" color="#ffffff" font-size="16px" font-weight="600" border-radius="6px" inner-padding="12px 24px" padding="8px 0 24px" align="left" />',
    '    </mj-attributes>',
    '  </mj-head>',
    '  <mj-body background-color="#f4f5f7" width="600px">',
    '    <mj-section padding="24px 0 8px">',
    '      <mj-column>',
    '        <mj-text align="center" font-size="14px" font-weight="600" color="#52606d" padding="0">{{ company.name }}</mj-text>',
    '      </mj-column>',
    '    </mj-section>',
    '    <mj-section background-color="#ffffff" border-radius="8px" padding="32px 32px 16px">',
    '      <mj-column>',
    text(GREETING),
    ...copy.paragraphs.map(text),
    `        <mj-button href="${copy.cta.url}">${copy.cta.label}</mj-button>`,
    ...closing,
    text(SIGN_OFF),
    '      </mj-column>',
    '    </mj-section>',
    '    <mj-section padding="16px 32px 32px">',
    '      <mj-column>',
    '        <mj-text align="center" font-size="12px" line-height="1.5" color="#7b8794" padding="0">Don\'t want these emails? <a href="{{ unsubscribe_url }}" style="color:#7b8794;text-decoration:underline;">Unsubscribe</a></mj-text>',
    '      </mj-column>',
    '    </mj-section>',
    '  </mj-body>',
    '</mjml>',
  ].join('\n');
}

const WELCOME: StepCopy = {
  preview: 'Thanks for getting in touch. Here is what to expect from us.',
  paragraphs: [
    "Thanks for getting in touch with {{ company.name }}{% if company_name %}. It's great to have {company_name} on board{% endif %}.",
    "Over the next two weeks we'll send you a few short emails: what we do, how teams put it to work, and an invitation to talk if it looks like a fit. You can stop them at any time.",
    "If you have a question right now, just reply to this email and we'll get back to you.",
  ],
  cta: { label: 'Take a look around', url: 'https://example.com/welcome' },
};

const LEARN_MORE: StepCopy = {
  preview: 'The short version of what we do, and where to read more.',
  paragraphs: [
    "Here's the short version of what {{ company.name }} does and who it's for.",
    'We help {% if company_name %}teams like {company_name}{% else %}teams{% endif %} spend less time on repetitive work and more time on the work that matters. Our overview covers the essentials in about five minutes: the problems we solve, how getting started works, and what it costs.',
  ],
  cta: { label: 'Read the overview', url: 'https://example.com/overview' },
  closing: 'Anything unclear? Hit reply. We read every message.',
};

const HOW_WE_HELP: StepCopy = {
  preview: 'The three places customers usually see results first.',
  paragraphs: [
    'Every team is different, so instead of a generic pitch, here are the three places our customers usually see results first:',
    '<ul style="margin:0;padding-left:20px;"><li><strong>Less manual work.</strong> Repetitive tasks handled for you, not by you.</li><li><strong>Clearer visibility.</strong> One place to see what is happening and what needs attention.</li><li><strong>Faster follow-through.</strong> Fewer things falling between the cracks.</li></ul>',
    'If any of these sound familiar{% if company_name %} at {company_name}{% endif %}, our guide shows how it works in practice.',
  ],
  cta: { label: 'See how it works', url: 'https://example.com/how-it-works' },
};

const SUCCESS_STORIES: StepCopy = {
  preview: 'How other teams got started, and what they changed first.',
  paragraphs: [
    "The most useful thing we can share isn't a feature list. It's how other teams got started.",
    'Our customer stories cover teams of different sizes: where they began, what they changed first, and what they would do differently. Each one takes a few minutes to read.',
  ],
  cta: { label: 'Read customer stories', url: 'https://example.com/customers' },
  closing: 'Want to hear about a team in a similar situation{% if company_name %} to {company_name}{% endif %}? Reply and tell us a little about yours.',
};

const CONVERSATION: StepCopy = {
  preview: 'A short, no-pressure call to see whether we are a good fit.',
  paragraphs: [
    "Over the past two weeks we've shared what {{ company.name }} does and how teams use it. If you're weighing whether it's right for {% if company_name %}{company_name}{% else %}your team{% endif %}, the quickest way to find out is a short conversation.",
    "In 20 minutes we'll listen to what you're working on, answer your questions, and tell you honestly whether we're a good fit. No pressure, no hard sell.",
  ],
  cta: { label: 'Book a 20-minute call', url: 'https://example.com/book' },
  closing: 'Not the right time? No problem. This is the last email in this series, and you can reply whenever it suits you.',
};

/** The default sequence every new company gets: five emails over two weeks. */
export const DEFAULT_SEQUENCE: { name: string; description: string; steps: DefaultStep[] } = {
  name: 'Welcome sequence',
  description: 'A five-email, two-week welcome series that introduces your company to new leads and invites them to book a conversation.',
  steps: [
    { delayDays: 0, delayHours: 0, subject: 'Welcome{% if first_name %}, {first_name}{% endif %}!', body: mjmlBody(WELCOME) },
    { delayDays: 3, delayHours: 0, subject: 'Learn more about {{ company.name }}', body: mjmlBody(LEARN_MORE) },
    { delayDays: 7, delayHours: 0, subject: 'How we can help', body: mjmlBody(HOW_WE_HELP) },
    { delayDays: 10, delayHours: 0, subject: 'Success stories', body: mjmlBody(SUCCESS_STORIES) },
    { delayDays: 14, delayHours: 0, subject: 'Schedule a conversation', body: mjmlBody(CONVERSATION) },
  ],
};
