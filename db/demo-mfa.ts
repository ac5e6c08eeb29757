/**
 * The one demo account with two-factor authentication on, and its TOTP secret. Demo data only:
 * this secret is public (README, scripts/totp.ts) and must never protect a real account. Kept in
 * its own dependency-free module so `npx tsx scripts/totp.ts` can read it without the server.
 */
export const MFA_DEMO_ACCOUNT = {
  email: 'mfa@vigil.test',
  displayName: 'Dr. Mina Faraday (MFA demo)',
  roles: ['physician'] as const,
  /** RFC 4648 base32, 160 bits, as an authenticator app expects ("VIGILDEMO TOTP SECRET FOR MFA ACCOUNT"). */
  totpSecret: 'VIGILDEMOTOTPSECRETFORMFAACCOUNT',
} as const;
