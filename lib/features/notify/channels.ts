import 'server-only';
import { and, eq, isNull } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { userRoles, users } from '@/db/schema';
import { env, parseEnv, type EnvSource } from '@/lib/platform/env';
import { intactRow, macColumns } from '@/lib/platform/integrity';
import { retryPolicy } from './retry-policy';

/** Where alerts go: a webhook (JSON POST) and/or e-mail (SMTP), as configured. */

export interface DeliveryConfig {
  webhookUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  mailTo?: string[];
  publicUrl?: string;
}

/** Read on every run, so configuration can change without a restart; `source` defaults to this process's. */
export function deliveryConfigFromEnv(source?: EnvSource): DeliveryConfig {
  const e = source ? parseEnv(source) : env();
  return {
    webhookUrl: e.VIGIL_ALERT_WEBHOOK_URL,
    smtpUrl: e.VIGIL_SMTP_URL,
    mailFrom: e.VIGIL_ALERT_EMAIL_FROM,
    mailTo: e.VIGIL_ALERT_EMAIL_TO?.split(',').map((s) => s.trim()).filter(Boolean),
    publicUrl: e.VIGIL_PUBLIC_URL,
  };
}

export interface OutboundAlert {
  id: string;
  kind: string;
  message: string;
  link: string | null;
  audience: string;
  createdAt: string;
}

export interface Channel {
  name: string;
  send(alert: OutboundAlert): Promise<void>;
}

/** A delivery failure whose text is safe to store: no URL, credentials or response body. */
export class DeliveryFailure extends Error {}

/** What a failed send is recorded as: the channel and the error's kind, never its text from outside. */
export function describeFailure(channel: string, error: unknown): string {
  if (error instanceof DeliveryFailure) return `${channel}: ${error.message}`;
  const e = error as { name?: unknown; code?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : null;
  return `${channel}: ${[typeof e.name === 'string' ? e.name : 'Error', code].filter(Boolean).join(' ')}`;
}

export function webhookChannel(url: string): Channel {
  return {
    name: 'webhook',
    async send(alert) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vigil-alert-id': alert.id },
        body: JSON.stringify(alert),
        redirect: 'error',
        signal: AbortSignal.timeout(retryPolicy.timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) throw new DeliveryFailure(`HTTP ${response.status}`);
    },
  };
}

export function smtpChannel(config: DeliveryConfig & { smtpUrl: string }): Channel {
  return {
    name: 'smtp',
    async send(alert) {
      const to = config.mailTo?.length ? config.mailTo : await audienceEmails(alert.audience);
      if (to.length === 0) throw new DeliveryFailure('no recipients');
      const { createTransport } = await import('nodemailer');
      const transport = createTransport(config.smtpUrl, {
        connectionTimeout: retryPolicy.timeoutMs,
        greetingTimeout: retryPolicy.timeoutMs,
        socketTimeout: retryPolicy.timeoutMs,
      });
      const link = alert.link ? `${config.publicUrl?.replace(/\/$/, '') ?? ''}${alert.link}` : null;
      try {
        await transport.sendMail({
          from: config.mailFrom,
          to,
          subject: `[Vigil] ${alert.message.slice(0, 120)}`,
          text: [alert.message, link ? `Review: ${link}` : null, `Alert id: ${alert.id}`].filter(Boolean).join('\n\n'),
          messageId: `<${alert.id}@vigil.alerts>`,
          headers: { 'X-Vigil-Alert-Id': alert.id },
        });
      } finally {
        transport.close();
      }
    },
  };
}

/** Holders of the role, by rows Vigil wrote: a role row or re-enabled account forged in SQL must not receive the alerts. */
async function audienceEmails(role: string): Promise<string[]> {
  const db = await getDb();
  const rows = await db
    .select({ user: macColumns.users, role: macColumns.user_roles })
    .from(users)
    .innerJoin(userRoles, eq(userRoles.userId, users.id))
    .where(and(eq(userRoles.roleName, role), isNull(users.disabledAt)));
  const emails: string[] = [];
  for (const row of rows) if ((await intactRow(db, 'users', row.user)) && (await intactRow(db, 'user_roles', row.role))) emails.push(row.user.email);
  return emails;
}

export function channelsFor(config: DeliveryConfig): Channel[] {
  const channels: Channel[] = [];
  if (config.webhookUrl) channels.push(webhookChannel(config.webhookUrl));
  if (config.smtpUrl) channels.push(smtpChannel({ ...config, smtpUrl: config.smtpUrl }));
  return channels;
}
