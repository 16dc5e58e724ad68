/**
 * Telling people from machines. Opens and clicks that look automated are recorded with a MACHINE verdict and
 * never score. The rules, in order (the first that matches gives the reason):
 *
 * - a HEAD request: browsers GET; link checkers and scanners probe with HEAD;
 * - a known proxy or scanner user agent: Apple Mail Privacy Protection (fetches every image of every email,
 *   opened or not, with a bare "Mozilla/5.0"), Google's and Yahoo's image proxies, security gateways
 *   (Barracuda, Mimecast, Proofpoint, Microsoft Defender Safe Links …) and generic bots and crawlers;
 * - too soon after sending: an open within 10 s, or a click within 10 s, is a prefetch or a scan on delivery;
 * - a click on many links at once: 3 or more different links of one email within 5 s is a scanner following
 *   every link (the first one or two clicks of such a burst are already judged and stay as they were).
 */

export type Verdict = { human: true } | { human: false; reason: string };

export const PREFETCH_SECONDS = 10;
export const BURST_SECONDS = 5;
export const BURST_LINKS = 3;

const PROXIES: [RegExp, string][] = [
  [/^Mozilla\/5\.0$/, 'Apple Mail Privacy Protection proxy'],
  [/GoogleImageProxy|ggpht\.com/i, "Google's image proxy"],
  [/YahooMailProxy/i, "Yahoo's image proxy"],
];
const SCANNERS =
  /bot\b|crawler|spider|preview|scanner|barracuda|mimecast|proofpoint|safelinks|defender|symantec|trend ?micro|sophos|fortiguard|forcepoint|zscaler|checkpoint|python-requests|curl\/|wget|go-http-client|java\/|okhttp|headless/i;

interface Request {
  method: string;
  userAgent: string | null;
  /** Seconds between SES accepting the email and this request; null if unknown. */
  secondsSinceSent: number | null;
}

export function classifyOpen(request: Request): Verdict {
  return common(request, 'opened');
}

export function classifyClick(request: Request & { otherLinksClickedRecently: number }): Verdict {
  const verdict = common(request, 'clicked');
  if (!verdict.human) return verdict;
  if (request.otherLinksClickedRecently + 1 >= BURST_LINKS) {
    return { human: false, reason: `${request.otherLinksClickedRecently + 1} different links clicked within ${BURST_SECONDS} s (link scanner)` };
  }
  return verdict;
}

function common(request: Request, verb: string): Verdict {
  if (request.method.toUpperCase() === 'HEAD') return { human: false, reason: 'HEAD request (link checker)' };
  const agent = request.userAgent?.trim() ?? '';
  for (const [pattern, name] of PROXIES) if (pattern.test(agent)) return { human: false, reason: name };
  if (SCANNERS.test(agent)) return { human: false, reason: `automated user agent (${agent.slice(0, 60)})` };
  if (request.secondsSinceSent !== null && request.secondsSinceSent < PREFETCH_SECONDS) {
    return { human: false, reason: `${verb} ${Math.max(0, Math.round(request.secondsSinceSent))} s after sending (prefetch or scan)` };
  }
  return { human: true };
}
