import { NextResponse, type NextRequest } from 'next/server';
import { env } from '@/lib/platform/env';

/**
 * Two jobs, on every request except static build assets:
 * 1. The optimistic gate: requests to portal pages without a session cookie go to /login at
 *    once. It is not the security boundary — every page, action and route re-checks the
 *    session row in lib/features/auth — and it never touches the database (PGlite must be opened by one
 *    module only).
 * 2. Security headers, including a Content-Security-Policy with a fresh nonce per request.
 *    Next reads the nonce from the *request's* Content-Security-Policy header and stamps it on
 *    its own bootstrap scripts, so the policy is set on the forwarded request and the response.
 */
const SESSION_COOKIES = ['authjs.session-token', '__Secure-authjs.session-token', '__Host-authjs.session-token'];
// The FHIR API and the authorization server's endpoints authenticate with bearer tokens, PKCE and
// their own signed cookies, not the portal's; the consent page among them asks for the sign-in itself.
const PUBLIC_PATHS = ['/login', '/api/auth', '/api/health', '/api/test', '/fhir', '/oauth/authorize', '/oauth/token', '/oauth/revoke', '/oauth/jwks', '/visit'];
// The two screens of a video visit (the clinician's and the patient's join screen) are the only
// pages that may ask for the camera and microphone; every other page keeps them off.
const MEDIA_PAGES = [/^\/patients\/[^/]+\/visits\/[^/]+$/, /^\/visit\/join$/];

export function contentSecurityPolicy(nonce: string, options: { https: boolean; dev: boolean }): string {
  return [
    "default-src 'self'",
    // 'strict-dynamic': scripts the nonced bootstrap loads are trusted; nothing else runs —
    // no inline handlers, no injected <script>, no eval (React needs eval only in development).
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${options.dev ? " 'unsafe-eval'" : ''}`,
    // Stylesheets are files from our own origin (Tailwind compiles to one) or nonced <style>.
    `style-src 'self' 'nonce-${nonce}'`,
    // React renders `style={...}` props as style *attributes*, which a nonce cannot cover. An
    // attribute cannot run script; the residual risk (CSS-based exfiltration of attribute
    // values) needs an injection point, which React's escaping already denies.
    "style-src-attr 'unsafe-inline'",
    // data: for the MFA enrolment QR code (a PNG data URL rendered by the server).
    "img-src 'self' data: blob:",
    "font-src 'self'",
    // Video visits: signalling is same-origin SSE and POSTs (connect-src), a recording plays from
    // our own origin (media-src); the peer-to-peer media itself is WebRTC, which CSP does not govern.
    "connect-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "frame-src 'none'",
    "worker-src 'self'",
    "manifest-src 'self'",
    ...(options.https ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

/** Headers every response carries; the CSP is added per request. */
export const SECURITY_HEADERS: Record<string, string> = {
  // PHI must never be stored by the browser or a proxy: no back-button chart after sign-out.
  'Cache-Control': 'no-store, max-age=0',
  Pragma: 'no-cache',
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on every POST,
  // and Next then refuses server-action forms submitted before hydration (a sign-in on a slow
  // ward PC). same-origin still sends nothing to any other site, which is what protects PHI in URLs.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy':
    'camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), hid=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=(), display-capture=(), browsing-topics=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function proxy(request: NextRequest) {
  const { pathname } = request.nextUrl;
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  const https = request.nextUrl.protocol === 'https:' || request.headers.get('x-forwarded-proto') === 'https';
  const csp = contentSecurityPolicy(nonce, { https, dev: env().NODE_ENV === 'development' });
  // A correlation id for logs and error pages; a client-supplied one is never trusted.
  const requestId = crypto.randomUUID();

  const isPublic = PUBLIC_PATHS.some((p) => pathname === p || pathname.startsWith(`${p}/`));
  const hasSession = SESSION_COOKIES.some((name) => request.cookies.has(name));
  let response: NextResponse;
  if (!isPublic && !hasSession && !pathname.startsWith('/api/')) {
    response = NextResponse.redirect(new URL('/login', request.url));
  } else {
    const forwarded = new Headers(request.headers);
    forwarded.set('x-nonce', nonce);
    forwarded.set('Content-Security-Policy', csp);
    forwarded.set('x-request-id', requestId);
    response = NextResponse.next({ request: { headers: forwarded } });
  }
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
  if (MEDIA_PAGES.some((page) => page.test(pathname))) {
    response.headers.set('Permissions-Policy', (SECURITY_HEADERS['Permissions-Policy'] ?? '').replace('camera=()', 'camera=(self)').replace('microphone=()', 'microphone=(self)'));
  }
  response.headers.set('Content-Security-Policy', csp);
  response.headers.set('x-request-id', requestId);
  return response;
}

export const config = {
  // Static build output is immutable and PHI-free; next.config.js gives it the other headers.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
