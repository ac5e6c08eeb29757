import 'server-only';
import { z } from 'zod';
import type { AdminPermission } from '@/lib/domain/access/permission-names';
import { passwordStepUp } from '@/lib/features/credentials/reauth';
import { locks } from '@/lib/pipeline/locks';

/**
 * What an admin page tells the administrator when a change is refused, as it is shown. Refusals
 * under the self-escalation rule (lib/domain/access/admin-rules.ts) have their own codes so
 * tests and the audit trail can tell them apart; the step-up messages are the pipeline's
 * (lib/pipeline/operation.ts `stepUpMessages`).
 */
export const adminMessages = {
  denied: 'You do not have permission to do this.',
  not_found: 'That account, role or assignment no longer exists. Reload the page.',
  conflict: 'Someone else changed this while you were editing. Reload to see their change, then try again.',
  self_change: 'You cannot change your own account here. Ask another administrator.',
  last_admin: 'This would leave no active administrator. Give another account the admin role first.',
  invalid: 'Check the highlighted fields.',
} as const;

/** The acting admin's password, as the form may carry it. */
export const adminPassword = z.string().max(1024).optional();

/** Every admin change may ask for the admin's own password, typed now (rule 3). */
export const adminStepUp = {
  by: passwordStepUp,
  secret: (raw: unknown) => adminPassword.catch(undefined).parse((raw as { adminPassword?: unknown } | null)?.adminPassword),
};

/** Who may ask: an admin permission. A refusal is recorded as `denied` and answered plainly. */
export const adminOnly = (name: AdminPermission) =>
  ({ permission: { category: 'admin', name }, denialReason: 'denied', deniedMessage: adminMessages.denied }) as const;

/** Every admin change: serialised with the others, the admin re-read under the lock (rule checks cannot race). */
export const serialisedAdminChange = { lock: () => locks.adminChange, recheckActor: true } as const;
