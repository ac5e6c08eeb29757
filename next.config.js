/** @type {import('next').NextConfig} */
const nextConfig = {
  // PGlite ships WASM and must be loaded by Node at run time, never bundled.
  serverExternalPackages: ['@electric-sql/pglite', '@node-rs/argon2', 'pino'],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
