import 'server-only';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';

/**
 * Every environment variable Vigil's own code reads, in one schema; the rest of the product
 * asks `env()`, never `process.env` (lib/platform/env.test.ts enforces it, and keeps README's
 * configuration table in step with this list). The one exception is instrumentation.ts's
 * NEXT_RUNTIME test, which must stay a literal for Next to replace at build time.
 *
 * A value that does not parse is an error naming the variable, never a silent default: a
 * misread VIGIL_REQUIRE_MFA would switch MFA off, a misread VIGIL_KEY_CACHE_SECONDS would
 * become NaN. Messages never quote a value (several carry keys or passwords). A blank value
 * counts as unset.
 */
const flag = () =>
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((value) => value === 'true');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A comma-separated list of addresses and CIDR ranges, each one proxy-addr can compile. */
const addressList = z
  .string()
  .transform((value) => value.split(',').map((entry) => entry.trim()).filter(Boolean))
  .refine(
    (entries) => {
      try {
        proxyaddr.compile(entries);
        return true;
      } catch {
        return false;
      }
    },
    { error: 'must be a comma-separated list of IP addresses or CIDR ranges' },
  );

const schema = z.object({
  /** Unset: production when NODE_ENV=production, demo otherwise (lib/platform/mode.ts). */
  VIGIL_MODE: z.enum(['production', 'demo'], { error: 'must be production or demo' }).optional(),
  /** Read here only so start-up can refuse without it; Auth.js reads it itself. */
  AUTH_SECRET: z.string().optional(),
  /** Auth.js reads it itself; hospital SSO needs it (start-up says so), so that every step names the same redirect URI. */
  AUTH_URL: httpUrl.optional(),
  /** Proxies whose X-Forwarded-For is believed; empty means the socket's peer is the client. */
  VIGIL_TRUSTED_PROXIES: addressList.default([]),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  VIGIL_DATA_DIR: z.string().default('.data'),
  /** Not moved by VIGIL_DATA_DIR. */
  VIGIL_KEY_FILE: z.string().default('.data/keys.json'),
  VIGIL_MASTER_KEYS: z.string().optional(),
  /** Unset means `env` when VIGIL_MASTER_KEYS is set, else `file` (lib/platform/crypto/key-provider.ts). */
  VIGIL_KEY_PROVIDER: z.enum(['file', 'env', 'pkcs11'], { error: 'must be file, env or pkcs11' }).optional(),
  VIGIL_PKCS11_MODULE: z.string().optional(),
  VIGIL_PKCS11_TOKEN_LABEL: z.string().optional(),
  VIGIL_PKCS11_SLOT: z.coerce.number({ error: 'must be a slot index' }).int({ error: 'must be a slot index' }).min(0, { error: 'must be a slot index' }).optional(),
  VIGIL_PKCS11_PIN: z.string().optional(),
  VIGIL_PKCS11_PIN_FILE: z.string().optional(),
  VIGIL_KEY_MAX_AGE_DAYS: z.coerce
    .number({ error: 'must be a number of days' })
    .int({ error: 'must be a number of days' })
    .min(30, { error: 'must be at least 30 days' })
    .max(3650, { error: 'must be at most 3650 days' })
    .default(365),
  VIGIL_KEY_CACHE_SECONDS: z.coerce
    .number({ error: 'must be a number of seconds' })
    .min(0, { error: 'must be a number of seconds' })
    .default(120),
  /** Unset means `<VIGIL_DATA_DIR>/audit-checkpoint.json` (lib/platform/audit/checkpoint.ts). */
  VIGIL_AUDIT_CHECKPOINT: z.string().optional(),
  /**
   * Raw on purpose: lib/features/credentials/config.ts reads anything unusable as the 15-minute
   * maximum, so no value, however mistyped, can lengthen a session.
   */
  VIGIL_IDLE_TIMEOUT_MINUTES: z.string().optional(),
  VIGIL_REQUIRE_MFA: flag(),
  VIGIL_INSECURE_COOKIES: flag(),
  /** Unset means `info`, or `silent` under NODE_ENV=test (lib/platform/log). */
  VIGIL_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be fatal, error, warn, info, debug, trace or silent',
    })
    .optional(),
  VIGIL_LOG_FILE: z.string().optional(),
  VIGIL_ALERT_WEBHOOK_URL: httpUrl.optional(),
  VIGIL_SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }).optional(),
  VIGIL_ALERT_EMAIL_FROM: z.email({ error: 'must be an e-mail address' }).default('vigil-alerts@localhost'),
  /** Comma-separated; when unset, mail goes to every enabled holder of the audience role. */
  VIGIL_ALERT_EMAIL_TO: z.string().optional(),
  VIGIL_PUBLIC_URL: httpUrl.optional(),
  /** Read by scripts/serve.mjs, which names the instance on every response (X-Vigil-Instance); unset means host:port. */
  VIGIL_INSTANCE_NAME: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1-64 letters, digits, dots, dashes or underscores' }).optional(),
  /**
   * The SMART on FHIR apps allowed to ask for tokens, `clientId=redirectUri[|redirectUri…]`,
   * comma-separated; unset means none. Read by lib/features/fhir/apps.ts, which refuses a bad entry.
   */
  VIGIL_SMART_APPS: z.string().optional(),
  /**
   * TURN for video visits behind NAT (lib/features/visits/turn.ts): comma-separated `turn:` or
   * `turns:` URLs and the secret shared with coturn (`static-auth-secret`); unset means host and
   * server-reflexive candidates only, which is enough on one LAN.
   */
  VIGIL_TURN_URLS: z.string().regex(/^turns?:[^\s,]+(,turns?:[^\s,]+)*$/, { error: 'must be comma-separated turn: or turns: URLs' }).optional(),
  VIGIL_TURN_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /** How long a TURN credential the portal hands out stays valid. */
  VIGIL_TURN_TTL_SECONDS: z.coerce.number({ error: 'must be 300 to 86400 seconds' }).int({ error: 'must be 300 to 86400 seconds' }).min(300, { error: 'must be 300 to 86400 seconds' }).max(86_400, { error: 'must be 300 to 86400 seconds' }).default(3_600),
  /**
   * Hospital SSO over OpenID Connect (lib/features/auth/sso-provider.ts): all three or none;
   * start-up names whichever is missing.
   */
  VIGIL_OIDC_ISSUER: httpUrl.optional(),
  VIGIL_OIDC_CLIENT_ID: z.string().optional(),
  VIGIL_OIDC_CLIENT_SECRET: z.string().optional(),
  /** The identity provider's name as staff know it, for "Sign in with …". */
  VIGIL_OIDC_NAME: z.string().max(60, { error: 'must be at most 60 characters' }).default('hospital sign-in'),
  /** The ID token claim whose values the role mappings name. */
  VIGIL_OIDC_GROUPS_CLAIM: z.string().regex(/^[\w:./-]{1,100}$/, { error: 'must be a claim name' }).default('groups'),
  /** `acr` values the identity provider uses for multi-factor sign-in, comma-separated (`amr` is read as well). */
  VIGIL_OIDC_MFA_ACR: z
    .string()
    .transform((value) => value.split(',').map((entry) => entry.trim()).filter(Boolean))
    .default([]),
  /** Just-in-time accounts for mapped SSO users; off means an admin creates every account first. */
  VIGIL_OIDC_JIT: flag(),
  /** Turns password sign-in off for everyone (the SSO button remains). */
  VIGIL_DISABLE_LOCAL_PASSWORDS: flag(),
  VIGIL_TEST_CLOCK: z
    .enum(['1', '0'], { error: 'must be 1 or 0' })
    .default('0')
    .transform((value) => value === '1'),
  /** The load benchmark's plaintext twin (lib/platform/plaintext-twin.ts); never in production mode. */
  VIGIL_BENCH_PLAINTEXT_TWIN: z
    .enum(['1', '0'], { error: 'must be 1 or 0' })
    .default('0')
    .transform((value) => value === '1'),
  NODE_ENV: z.enum(['development', 'production', 'test'], { error: 'must be development, production or test' }).optional(),
  NEXT_PHASE: z.string().optional(),
});

export type Env = z.output<typeof schema>;
export type EnvName = keyof Env;
export type EnvSource = Readonly<Record<string, string | undefined>>;

export const ENV_NAMES = Object.keys(schema.shape) as readonly EnvName[];

/** Configuration that cannot be used; the message names the variables and the expected form only. */
export class EnvError extends Error {
  override name = 'EnvError';
}

/** Parses the variables out of `source` (blank means unset); throws EnvError when any is unusable. */
export function parseEnv(source: EnvSource): Env {
  const present = Object.fromEntries(
    ENV_NAMES.flatMap((name) => {
      const value = source[name];
      return value?.trim() ? [[name, value]] : [];
    }),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  throw new EnvError(`The environment is misconfigured: ${[...new Set(problems)].join('; ')}.`);
}

function processSource(): Record<string, string | undefined> {
  const source: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) source[name] = process.env[name];
  // Next replaces this expression when it bundles; only a literal read sees the bundled value
  // rather than whatever the process happens to carry.
  source.NODE_ENV = process.env.NODE_ENV;
  return source;
}

/** This process's raw variables, for start-up checks that must report every problem rather than throw at the first. */
export const environmentSource = (): EnvSource => processSource();

let cached: { raw: string; env: Env } | undefined;

/** Set by scripts/serve.mjs before Next loads: this process is the portal's production server. */
const SERVED_BY_VIGIL = Symbol.for('vigil.serve');
export const servedByVigil = (): boolean => (globalThis as Record<symbol, unknown>)[SERVED_BY_VIGIL] === true;

/**
 * This process's configuration, parsed on first use and again whenever a variable's value has
 * changed since (tests set process.env between cases), so a reader never sees a stale value.
 * In the server scripts/serve.mjs runs nothing sets a variable after start-up, so the first
 * parse stands there: env() is asked dozens of times a request, and reading every variable of
 * process.env again each time was about 1% of the server's CPU.
 */
export function env(): Env {
  if (cached && servedByVigil()) return cached.env;
  const source = processSource();
  const raw = JSON.stringify(ENV_NAMES.map((name) => source[name] ?? null));
  if (cached?.raw !== raw) cached = { raw, env: parseEnv(source) };
  return cached.env;
}
