/**
 * `npx tsx scripts/totp.ts [BASE32SECRET]`: prints the current TOTP code for the MFA demo account
 * (mfa@vigil.test), or for any secret given, and how long it stays valid. Same codes as an
 * authenticator app holding the secret. For demos and manual testing only.
 */
import { generate } from 'otplib';
import { MFA_DEMO_ACCOUNT } from '../db/demo-mfa';

const secret = (process.argv[2] ?? MFA_DEMO_ACCOUNT.totpSecret).replace(/\s/g, '').toUpperCase();
const nowSeconds = Math.floor(Date.now() / 1000);
const code = await generate({ secret, epoch: nowSeconds });
const left = 30 - (nowSeconds % 30);
console.log(`${code}  (valid ${left} s more; ${process.argv[2] ? 'given secret' : MFA_DEMO_ACCOUNT.email})`);
