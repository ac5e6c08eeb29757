import 'server-only';
import { env, type Env } from '@/lib/platform/env';

export type VigilMode = 'production' | 'demo';

/**
 * The one rule for which mode this process is in: `VIGIL_MODE` when set, otherwise production
 * whenever `NODE_ENV=production` (every `next start`). So a server someone forgot to configure
 * runs in production mode, refusing demo accounts and unsafe settings; `npm run demo` says
 * `VIGIL_MODE=demo` for its own server, and scripts and tests (no NODE_ENV=production) run as
 * demo unless told otherwise.
 */
export function vigilMode(source: Pick<Env, 'VIGIL_MODE' | 'NODE_ENV'> = env()): VigilMode {
  if (source.VIGIL_MODE) return source.VIGIL_MODE;
  return source.NODE_ENV === 'production' ? 'production' : 'demo';
}

export const isProductionMode = (source?: Pick<Env, 'VIGIL_MODE' | 'NODE_ENV'>): boolean => vigilMode(source) === 'production';

/** The e-mail domain of every account the demo seed makes (`.test` is reserved: no real mailbox). */
export const DEMO_ACCOUNT_DOMAIN = 'vigil.test';
