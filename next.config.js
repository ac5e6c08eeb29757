/**
 * Headers for every response, including the static build assets that proxy.ts skips. The
 * per-request Content-Security-Policy (with its nonce) and `Cache-Control: no-store` come from
 * proxy.ts; static assets keep Next's immutable caching (they hold no PHI).
 */
const baselineHeaders = [
  { key: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubDomains; preload' },
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  { key: 'Referrer-Policy', value: 'same-origin' }, // why: see proxy.ts
  { key: 'X-Frame-Options', value: 'DENY' },
  { key: 'Cross-Origin-Resource-Policy', value: 'same-origin' },
];

/** @type {import('next').NextConfig} */
const nextConfig = {
  // PGlite ships WASM and must be loaded by Node at run time, never bundled.
  // pkcs11js is a native addon (the PKCS#11 key provider): loaded by Node, never bundled.
  // oidc-provider (the SMART authorization server) and light-my-request are Node http code, loaded as they ship.
  serverExternalPackages: ['@electric-sql/pglite', '@node-rs/argon2', 'pino', 'pkcs11js', 'oidc-provider', 'light-my-request'],
  // End-to-end runs build into their own directory so they never disturb a developer's .next.
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
  poweredByHeader: false,
  // No gzip of our own responses: pages that reflect a search and carry PHI and form secrets are
  // what BREACH reads through compression, and gzip was 4% of the portal's CPU under load. A
  // reverse proxy may still compress the static assets.
  compress: false,
  reactStrictMode: true,
  // scripts/test-all.sh type-checks the whole tree (tsc --noEmit) before it builds for the
  // browser tests, and sets this so that the build does not spend the same minute again.
  typescript: { ignoreBuildErrors: process.env.VIGIL_BUILD_TYPECHECKED === '1' },
  async headers() {
    return [{ source: '/:path*', headers: baselineHeaders }];
  },
};

export default nextConfig;
