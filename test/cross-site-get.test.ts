/**
 * No GET reveals PHI on request or changes anything when another site starts it. A cross-site
 * top-level navigation carries the viewer's SameSite=Lax cookie, so every GET handler in app/ is
 * walked here: each is a public read that changes nothing (named below, with why), or a guarded
 * route that refuses a request another site started. Pages are GETs too: none may open sealed
 * audit state or a break-glass grant's justification and MRN (each a POST with a reason:
 * app/(portal)/admin/audit/[seq]/actions.ts, app/(portal)/admin/break-glass/[grantId]/actions.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startedElsewhere } from '@/lib/features/auth/request';

const app = path.join(process.cwd(), 'app');
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
const relative = (file: string) => path.relative(process.cwd(), file);

/** GETs that answer before there is a viewer or change nothing a cross-site request could abuse. */
const harmlessGets: Record<string, string> = {
  'app/api/health/route.ts': 'liveness only, no PHI, no write',
  'app/api/phi/key/route.ts': 'a public key',
  'app/api/test/clock/route.ts': 'reads the test clock (demo and test builds only)',
  'app/api/session/timeout/route.ts': 'ends only a session the server already considers ended',
  'app/api/auth/[...nextauth]/route.ts': 'Auth.js: CSRF token, providers, the session expiry (never its id); sign-out is a POST with its CSRF token',
  'app/fhir/R4/[...path]/route.ts': 'bearer tokens only: a cross-site navigation carries no Authorization header',
  'app/fhir/R4/metadata/route.ts': 'the CapabilityStatement',
  'app/fhir/R4/.well-known/smart-configuration/route.ts': 'the SMART configuration',
  'app/oauth/[...path]/route.ts': 'the authorization server: a request only leads to the consent page, whose Allow is a POST; the resume finishes the browser’s own consented request; the key set is public',
  'app/api/visits/media/route.ts': 'the bytes of a playback opened (and recorded) by a POST, named by its unguessable view id',
  'app/api/visits/signal/route.ts': 'the event stream of a call set-up the viewer joined by a POST',
  'app/visit/api/signal/route.ts': 'the patient side of a call set-up, authorised by the visit link itself',
};

describe('GET handlers', () => {
  const routes = files(app).filter((f) => f.endsWith('route.ts'));
  const gets = routes.filter((f) => /export const GET\s*=/.test(readFileSync(f, 'utf8')));

  it('finds the GET handlers (the walk is not vacuous)', () => {
    expect(gets.length).toBeGreaterThanOrEqual(8);
  });

  it.each(gets.map(relative))('%s changes and reveals nothing for a request another site started', (file) => {
    const source = readFileSync(file, 'utf8');
    const get = source.slice(source.search(/export const GET\s*=/));
    const handler = get.slice(0, get.search(/\n\);?\n/) + 3);
    if (harmlessGets[file]) return;
    // Any other GET is a guarded route that refuses requests started elsewhere.
    expect(handler, `${file}: a GET that is not on the harmless list must be guardedRoute(..., { sameSiteOnly: true })`).toMatch(/^export const GET\s*=\s*guardedRoute\(/);
    expect(handler).toMatch(/sameSiteOnly:\s*true/);
  });
});

describe('pages', () => {
  it('never open sealed audit state or a grant’s justification, whatever the query string says', () => {
    const pages = files(app).filter((f) => f.endsWith('page.tsx'));
    expect(pages.length).toBeGreaterThan(20);
    const opening = pages.filter((f) => /revealAuditState|revealGrantSealed|[?&]reveal=|searchParams\)\.reveal/.test(readFileSync(f, 'utf8')));
    expect(opening.map(relative)).toEqual([]);
  });

  it('open the reveals only through server actions, which Next refuses from another origin', () => {
    const reveals = { revealAuditState: 'app/(portal)/admin/audit/[seq]/actions.ts', revealGrantSealed: 'app/(portal)/admin/break-glass/[grantId]/actions.ts' };
    const sources = files(app).filter((f) => /\.(ts|tsx)$/.test(f));
    for (const [reveal, actions] of Object.entries(reveals)) {
      expect(sources.filter((f) => readFileSync(f, 'utf8').includes(reveal)).map(relative), reveal).toEqual([actions]);
      const source = readFileSync(path.join(process.cwd(), actions), 'utf8');
      expect(source.startsWith("'use server';")).toBe(true);
      expect(source.replace(/\s+/g, ' ')).toContain(`guardedAction( ${reveal},`);
    }
  });
});

describe('what counts as started elsewhere', () => {
  const request = (headers: Record<string, string>) => new Request('https://vigil.test/admin/audit/export?format=csv', { headers: { host: 'vigil.test', ...headers } });
  it('refuses cross-site and sibling-subdomain requests, by Fetch Metadata or, without it, by Origin or Referer', () => {
    expect(startedElsewhere(request({ 'sec-fetch-site': 'cross-site' }))).toBe(true);
    expect(startedElsewhere(request({ 'sec-fetch-site': 'same-site' }))).toBe(true);
    expect(startedElsewhere(request({ origin: 'https://evil.test' }))).toBe(true);
    expect(startedElsewhere(request({ referer: 'https://evil.test/page' }))).toBe(true);
    expect(startedElsewhere(request({ origin: 'null' }))).toBe(true);
  });
  it('lets the portal’s own pages and a typed or bookmarked address through', () => {
    expect(startedElsewhere(request({ 'sec-fetch-site': 'same-origin' }))).toBe(false);
    expect(startedElsewhere(request({ 'sec-fetch-site': 'none' }))).toBe(false);
    expect(startedElsewhere(request({ referer: 'https://vigil.test/admin/audit' }))).toBe(false);
    expect(startedElsewhere(request({}))).toBe(false);
  });
});
