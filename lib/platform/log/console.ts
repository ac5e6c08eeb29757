import 'server-only';
import { getLogger, scrub } from '@/lib/platform/log';

const globalForConsole = globalThis as unknown as { vigilConsoleRedacted?: boolean };

/**
 * Routes the server's console (Next's own error printing included) through the redacting
 * logger, so an uncaught error's message — which may quote PHI — never reaches stdout as is.
 */
export function installConsoleRedaction(): void {
  if (globalForConsole.vigilConsoleRedacted) return;
  globalForConsole.vigilConsoleRedacted = true;
  const logger = getLogger();
  const route = (level: 'error' | 'warn' | 'info') => (...args: unknown[]) => {
    logger[level]({ console: args.map((arg) => scrub(arg)) }, `console.${level}`);
  };
  console.error = route('error');
  console.warn = route('warn');
  console.info = route('info');
  console.log = route('info');
}
