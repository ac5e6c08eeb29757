import 'server-only';
import pino, { type DestinationStream, type Logger } from 'pino';
import { env } from '@/lib/platform/env';
import { redact } from '@/lib/platform/log/redact';

/**
 * The server's one structured logger (pino, JSON lines). Every object logged passes through
 * the PHI map's redaction; errors keep their type, code, digest and stack *frames* but never
 * their message (a message can quote a name, an MRN or a query); free text is masked for
 * MRN- and date-of-birth-shaped values as a second net. Messages themselves must be constant
 * sentences: put facts in fields, where redaction can see them.
 *
 * Output: stdout, plus the file named by VIGIL_LOG_FILE when set (end-to-end runs scan it for
 * PHI).
 */
function defaultLevel(): string {
  const { VIGIL_LOG_LEVEL, NODE_ENV } = env();
  return VIGIL_LOG_LEVEL ?? (NODE_ENV === 'test' ? 'silent' : 'info');
}

/** Digit runs of MRN length and calendar dates: never needed in a log line, often PHI. */
const MASKS: Array<[RegExp, string]> = [
  [/\b\d{4}-\d{2}-\d{2}(?!T\d)/g, '[date]'],
  [/(?<![\w-])\d{6,}(?![\w-])/g, '[number]'],
];

export function maskText(text: string): string {
  return MASKS.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

export interface SafeError {
  type: string;
  code?: string;
  digest?: string;
  frames: string[];
  cause?: SafeError;
}

/** An error without its message: the name, code, digest and stack frames (file:line only). */
export function safeError(error: unknown, depth = 0): SafeError {
  if (!(error instanceof Error)) return { type: typeof error, frames: [] };
  const withExtras = error as Error & { code?: unknown; digest?: unknown; cause?: unknown };
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 15)
    .map((line) => maskText(line.trim()));
  return {
    type: error.name,
    ...(typeof withExtras.code === 'string' ? { code: withExtras.code } : {}),
    ...(typeof withExtras.digest === 'string' ? { digest: withExtras.digest } : {}),
    frames,
    ...(withExtras.cause !== undefined && depth < 3 ? { cause: safeError(withExtras.cause, depth + 1) } : {}),
  };
}

/** Redacts PHI fields by name, makes errors safe, and masks PHI-shaped free text. */
export function scrub(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return safeError(value);
  if (typeof value === 'string') return maskText(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  const redacted = redact(value);
  if (Array.isArray(redacted)) return redacted.map((item) => scrub(item, depth + 1));
  return Object.fromEntries(
    Object.entries(redacted as Record<string, unknown>).map(([key, inner]) => [
      key,
      // redact() has already replaced errors one level down; keep the original for frames.
      (value as Record<string, unknown>)[key] instanceof Error
        ? safeError((value as Record<string, unknown>)[key])
        : scrub(inner, depth + 1),
    ]),
  );
}

function destination(): DestinationStream {
  const file = env().VIGIL_LOG_FILE;
  const stdout = pino.destination({ dest: 1, sync: true });
  if (!file) return stdout;
  return pino.multistream([{ stream: stdout }, { stream: pino.destination({ dest: file, sync: true, mkdir: true, append: true }) }]);
}

export function createLogger(stream: DestinationStream = destination(), level = defaultLevel()): Logger {
  return pino(
    {
      level,
      base: { app: 'vigil' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Every merged object passes through scrub; errors under `err` too.
      formatters: { log: (object) => scrub(object) as Record<string, unknown> },
      // formatters.log runs first and has usually made `err` safe already.
      serializers: { err: (error: unknown) => (error instanceof Error ? safeError(error) : error) },
      hooks: {
        // The message string is masked too, in case someone interpolated a value into it.
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? maskText(arg) : arg)) as Parameters<typeof method>);
        },
      },
    },
    stream,
  );
}

const globalForLog = globalThis as unknown as { vigilLogger?: Logger };

export function getLogger(): Logger {
  globalForLog.vigilLogger ??= createLogger();
  return globalForLog.vigilLogger;
}

/** The module-level logger most code wants: `log.error({ err, requestId }, 'Chart failed to open')`. */
export const log: Pick<Logger, 'fatal' | 'error' | 'warn' | 'info' | 'debug'> = {
  fatal: (...args: Parameters<Logger['fatal']>) => getLogger().fatal(...args),
  error: (...args: Parameters<Logger['error']>) => getLogger().error(...args),
  warn: (...args: Parameters<Logger['warn']>) => getLogger().warn(...args),
  info: (...args: Parameters<Logger['info']>) => getLogger().info(...args),
  debug: (...args: Parameters<Logger['debug']>) => getLogger().debug(...args),
};

/** A request path safe to log: no query string (a search box puts names and MRNs there). */
export function safePath(url: string): string {
  try {
    return new URL(url, 'http://local').pathname;
  } catch {
    return '[unparseable]';
  }
}
