import { describe, expect, it } from 'vitest';
import { instrumentHtml } from '../src/tracking/links.js';
import { classifyClick, classifyOpen } from '../src/tracking/machine.js';
import { signToken, tokenVerifier, verifyToken } from '../src/tracking/tokens.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const later = { method: 'GET', userAgent: CHROME, secondsSinceSent: 3600 };

describe('machine engagement heuristic', () => {
  it('a browser opening an hour after sending is a person', () => {
    expect(classifyOpen(later)).toEqual({ human: true });
    expect(classifyClick({ ...later, otherLinksClickedRecently: 1 })).toEqual({ human: true });
  });

  it.each([
    ['Apple Mail Privacy Protection', { ...later, userAgent: 'Mozilla/5.0' }, /Apple Mail Privacy/],
    ["Google's image proxy", { ...later, userAgent: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' }, /Google/],
    ['a HEAD request', { ...later, method: 'HEAD' }, /HEAD/],
    ['a security gateway', { ...later, userAgent: 'Mimecast-Url-Protect/1.0' }, /automated/],
    ['a prefetch on delivery', { ...later, secondsSinceSent: 2 }, /2 s after sending/],
  ])('an open by %s is a machine', (_, request, reason) => {
    const verdict = classifyOpen(request);
    expect(verdict.human).toBe(false);
    expect(!verdict.human && verdict.reason).toMatch(reason);
  });

  it('clicks on every link at once are a scanner', () => {
    expect(classifyClick({ ...later, otherLinksClickedRecently: 2 })).toMatchObject({ human: false, reason: expect.stringMatching(/3 different links/) });
    expect(classifyClick({ ...later, secondsSinceSent: 1, otherLinksClickedRecently: 0 }).human).toBe(false);
  });
});

describe('tracking tokens and links', () => {
  const secret = 'test-secret-0123456789abcdef0123456789';
  const emailId = '01a2b3c4-0000-7000-8000-000000000001';

  it('tokens verify only unaltered, with their payload', () => {
    const token = signToken(secret, { emailId, kind: 'click', link: 2 });
    expect(verifyToken(secret, token)).toEqual({ emailId, kind: 'click', link: 2 });
    expect(verifyToken('another-secret-0123456789abcdef012345', token)).toBeNull();
    const [body, mac] = token.split('.');
    const forged = Buffer.from(`c.${emailId}.7`).toString('base64url');
    expect(verifyToken(secret, `${forged}.${mac}`)).toBeNull();
    expect(verifyToken(secret, `${body}.${mac}x`)).toBeNull();
    expect(verifyToken(secret, 'garbage')).toBeNull();
  });

  it('a verifier that remembers genuine tokens still refuses everything else, however often it is asked', () => {
    const verify = tokenVerifier(secret, 2);
    const other = tokenVerifier('another-secret-0123456789abcdef012345', 2);
    const tokens = [0, 1, 2].map((link) => signToken(secret, { emailId, kind: 'click', link }));
    for (let round = 0; round < 3; round++) {
      // Three genuine tokens through a memory of two: each answer is the same as a full check's.
      tokens.forEach((token, link) => expect(verify(token)).toEqual({ emailId, kind: 'click', link }));
      tokens.forEach((token) => expect(other(token)).toBeNull());
      const [body, mac] = tokens[0]!.split('.');
      expect(verify(`${body}.${mac}x`)).toBeNull();
      expect(verify(`${Buffer.from(`c.${emailId}.7`).toString('base64url')}.${mac}`)).toBeNull();
    }
  });

  it('rewrites web links, keeps unsubscribe, mailto, tel and anchors, and adds the pixel', () => {
    const html = `<html><body><a href="https://example.com/a?x=1&amp;y=2">A</a> <a href='http://example.com/b'>B</a>
      <a href="https://mail.test/u/abc">Unsubscribe</a> <a href="mailto:hi@example.com">Mail</a> <a href="tel:+1555">Call</a> <a href="#top">Top</a></body></html>`;
    const result = instrumentHtml(html, { emailId, publicUrl: 'https://mail.test', secret, unsubscribeUrl: 'https://mail.test/u/abc' });
    expect(result.links).toEqual(['https://example.com/a?x=1&y=2', 'http://example.com/b']);
    expect(result.html).not.toContain('example.com/a');
    expect(result.html).toContain('href="https://mail.test/u/abc"');
    expect(result.html).toContain('href="mailto:hi@example.com"');
    expect(result.html).toContain('href="tel:+1555"');
    expect(result.html).toContain('href="#top"');
    const clicks = [...result.html.matchAll(/https:\/\/mail\.test\/t\/c\/([\w.-]+)/g)].map((m) => verifyToken(secret, m[1]!));
    expect(clicks).toEqual([
      { emailId, kind: 'click', link: 0 },
      { emailId, kind: 'click', link: 1 },
    ]);
    expect(result.html).toMatch(/<img src="https:\/\/mail\.test\/t\/o\/[\w.-]+\.gif"[^>]*><\/body>/);
  });
});
