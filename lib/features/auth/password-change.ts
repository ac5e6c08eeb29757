import 'server-only';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '@/lib/features/credentials/passwords';
import { passwordStepUp } from '@/lib/features/credentials/reauth';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { updateWithMac } from '@/lib/platform/integrity';

/**
 * A viewer choosing their own new password: the one way out of a one-time password (the first
 * administrator's from `npm run setup`), which production mode holds at this page until it is
 * replaced (lib/features/auth/viewer-state.ts). The current password on the same form is the
 * step-up (checked, counted towards lockout and audited by the pipeline); the change ends the
 * viewer's other sessions.
 */
const changeSchema = z
  .object({
    current: z.string().min(1, 'Enter your current password.').max(PASSWORD_MAX_LENGTH),
    password: z
      .string()
      .min(PASSWORD_MIN_LENGTH, `Use at least ${PASSWORD_MIN_LENGTH} characters.`)
      .max(PASSWORD_MAX_LENGTH, `Use at most ${PASSWORD_MAX_LENGTH} characters.`),
    passwordConfirm: z.string(),
  })
  .refine((v) => v.password === v.passwordConfirm, { path: ['passwordConfirm'], message: 'The two passwords do not match.' })
  .refine((v) => v.password !== v.current, { path: ['password'], message: 'Choose a password different from the current one.' });

export type PasswordChangeRefusal = 'invalid' | 'reauth_required';

const currentOf = (raw: unknown) => {
  const current = (raw as { current?: unknown } | null)?.current;
  return typeof current === 'string' && current.length <= PASSWORD_MAX_LENGTH ? current : null;
};

export const changeOwnPassword = operation({
  name: 'account.password.change',
  action: auditActions.auth.passwordChange,
  resourceType: 'user',
  deniedMessage: 'Only you can change your own password.',
  input: changeSchema,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? 'Check the form and try again.'),
  stepUp: { by: passwordStepUp, secret: currentOf, refusal: fail('reauth_failed', 'Your current password did not match.') },
  run: async ({ tx, viewer, input, at, recentlyReauthenticated, audit }): Promise<Result<undefined, PasswordChangeRefusal>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', 'Enter your current password.');
    await updateWithMac(tx, 'users', eq(users.id, viewer.userId), { passwordHash: await hashPassword(input.password), passwordChangedAt: at });
    const otherSessionsEnded = await revokeUserSessions(tx, viewer.userId, 'password_changed', at, { except: viewer.sessionId });
    await audit({ resourceId: viewer.userId, details: { otherSessionsEnded } });
    return ok(undefined, 'Your password is changed.');
  },
});
