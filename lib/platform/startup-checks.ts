import 'server-only';
import { statSync } from 'node:fs';
import path from 'node:path';
import { like } from 'drizzle-orm';
import { getDb, type Queryable } from '@/db/client';
import { users } from '@/db/schema';
import { EnvError, environmentSource, parseEnv, servedByVigil, type Env, type EnvSource } from '@/lib/platform/env';
import { log } from '@/lib/platform/log';
import { DEMO_ACCOUNT_DOMAIN, vigilMode, type VigilMode } from '@/lib/platform/mode';

/** One reason not to run: the variable (or thing) at fault and a sentence that never quotes a value. */
export interface StartupProblem {
  variable: string;
  message: string;
}

/** Start-up refused in production mode; the message lists every problem, each naming its variable. */
export class StartupRefused extends Error {
  override name = 'StartupRefused';
  constructor(readonly problems: readonly StartupProblem[]) {
    super(`Vigil will not start: ${problems.map((p) => `${p.variable}: ${p.message}`).join(' ')}`);
  }
}

export interface StartupFacts {
  /** Whether requests arrive through scripts/serve.mjs, which tells the app each peer address. */
  servedByVigil?: boolean;
  /** Sees the key file's permissions; a test passes its own. */
  fileMode?: (file: string) => number | null;
}

const MIN_AUTH_SECRET_LENGTH = 32;

function fileModeOf(file: string): number | null {
  try {
    return statSync(file).mode;
  } catch {
    return null;
  }
}

const inside = (child: string, parent: string) => {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

/** Settings that weaken security, each named. The same list in both modes; only the consequence differs. */
export function configurationProblems(e: Env, facts: StartupFacts = {}): StartupProblem[] {
  const problems: StartupProblem[] = [];
  if (!e.AUTH_SECRET) problems.push({ variable: 'AUTH_SECRET', message: 'is not set; it signs the session cookie.' });
  else if (e.AUTH_SECRET.length < MIN_AUTH_SECRET_LENGTH) {
    problems.push({ variable: 'AUTH_SECRET', message: `is shorter than ${MIN_AUTH_SECRET_LENGTH} characters.` });
  }
  const usesKeyFile = e.VIGIL_KEY_PROVIDER ? e.VIGIL_KEY_PROVIDER === 'file' : !e.VIGIL_MASTER_KEYS;
  if (usesKeyFile) {
    const keyFile = path.resolve(e.VIGIL_KEY_FILE);
    if (inside(keyFile, path.resolve(e.VIGIL_DATA_DIR))) {
      problems.push({
        variable: 'VIGIL_KEY_FILE',
        message: 'is inside VIGIL_DATA_DIR, so one backup of the data would hold the keys that open it; keep it elsewhere.',
      });
    }
    const mode = (facts.fileMode ?? fileModeOf)(keyFile);
    if (mode !== null && (mode & 0o077) !== 0) {
      problems.push({ variable: 'VIGIL_KEY_FILE', message: 'can be read by other users of this machine; make it mode 600.' });
    }
  }
  problems.push(...ssoProblems(e));
  if (e.VIGIL_TEST_CLOCK) problems.push({ variable: 'VIGIL_TEST_CLOCK', message: 'opens the test route that moves the server clock.' });
  if (e.VIGIL_INSECURE_COOKIES) problems.push({ variable: 'VIGIL_INSECURE_COOKIES', message: 'drops the Secure flag from the session cookie.' });
  if (e.VIGIL_BENCH_PLAINTEXT_TWIN) {
    problems.push({ variable: 'VIGIL_BENCH_PLAINTEXT_TWIN', message: 'turns encryption, the audit trail and monitoring off for a benchmark.' });
  }
  if (facts.servedByVigil === false) {
    problems.push({
      variable: 'npm start',
      message: 'the portal was started without scripts/serve.mjs, so client addresses are unknown; start it with npm start.',
    });
  }
  return problems;
}

const SSO_VARIABLES = ['VIGIL_OIDC_ISSUER', 'VIGIL_OIDC_CLIENT_ID', 'VIGIL_OIDC_CLIENT_SECRET'] as const;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Hospital SSO half-configured, over plain http, or the only way in switched off with nothing instead. */
function ssoProblems(e: Env): StartupProblem[] {
  const set = SSO_VARIABLES.filter((name) => e[name]);
  const problems: StartupProblem[] = SSO_VARIABLES.filter((name) => set.length > 0 && !e[name]).map((variable) => ({
    variable,
    message: `is not set, but ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'}; SSO needs the issuer, client id and client secret.`,
  }));
  if (e.VIGIL_OIDC_ISSUER && new URL(e.VIGIL_OIDC_ISSUER).protocol === 'http:' && !LOOPBACK.has(new URL(e.VIGIL_OIDC_ISSUER).hostname)) {
    problems.push({ variable: 'VIGIL_OIDC_ISSUER', message: 'is plain http: ID tokens and client secrets would cross the network unencrypted.' });
  }
  if (set.length === SSO_VARIABLES.length && !e.AUTH_URL) {
    problems.push({ variable: 'AUTH_URL', message: 'is not set; hospital SSO needs the portal\'s public URL to name one redirect URI at every step.' });
  }
  if (e.VIGIL_DISABLE_LOCAL_PASSWORDS && set.length < SSO_VARIABLES.length) {
    problems.push({ variable: 'VIGIL_DISABLE_LOCAL_PASSWORDS', message: 'switches passwords off, but no identity provider is configured, so nobody could sign in.' });
  }
  return problems;
}

/** Demo accounts (the seed's, with their published password) found in this database. */
export async function demoAccountProblems(q: Queryable): Promise<StartupProblem[]> {
  const found = await q.select({ id: users.id }).from(users).where(like(users.email, `%@${DEMO_ACCOUNT_DOMAIN}`)).limit(1);
  return found.length
    ? [{ variable: 'database', message: `holds demo accounts (@${DEMO_ACCOUNT_DOMAIN}, published password); use a database made with npm run setup.` }]
    : [];
}

export interface StartupVerdict {
  mode: VigilMode;
  /** Problems that were only warned about (demo mode). */
  warnings: StartupProblem[];
}

/**
 * The start-up checks instrumentation.ts and the scripts run: a variable that does not parse
 * refuses in either mode (env() would throw on first use anyway); everything else refuses in
 * production mode and is a warning in demo mode.
 */
export async function checkStartup(source: EnvSource, db: Queryable | null, facts: StartupFacts = {}): Promise<StartupVerdict> {
  let e: Env;
  try {
    e = parseEnv(source);
  } catch (error) {
    if (error instanceof EnvError) throw new StartupRefused([{ variable: 'environment', message: error.message }]);
    throw error;
  }
  const mode = vigilMode(e);
  const problems = configurationProblems(e, facts);
  if (mode === 'production' && db) problems.push(...(await demoAccountProblems(db)));
  if (mode === 'production' && problems.length) throw new StartupRefused(problems);
  return { mode, warnings: problems };
}

/**
 * The server's start-up gate, the first thing instrumentation.ts runs: false when the process
 * must not serve. It reads the raw variables itself, so a value that does not parse is one
 * refusal here rather than a stack trace from the first env() call. Problems are printed one
 * line each with the variable's name, never its value. `next build` loads the hook too: the
 * build is not a server, so nothing is checked then.
 */
export async function serverMayStart(): Promise<boolean> {
  const source = environmentSource();
  if (source.NEXT_PHASE === 'phase-production-build') return true;
  const behindServe = servedByVigil();
  try {
    // The configuration alone first: opening the database needs a configuration that parses.
    await checkStartup(source, null, { servedByVigil: behindServe });
    const verdict = await checkStartup(source, await getDb(), { servedByVigil: behindServe });
    for (const problem of verdict.warnings) log.warn({ variable: problem.variable, problem: problem.message }, 'Unsafe setting tolerated in demo mode');
    return true;
  } catch (error) {
    if (!(error instanceof StartupRefused)) throw error;
    // console, not the logger: the logger's own settings may be what failed to parse.
    for (const problem of error.problems) console.error(`Start-up refused: ${problem.variable}: ${problem.message}`);
    return false;
  }
}
