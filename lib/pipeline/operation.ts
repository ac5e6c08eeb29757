import 'server-only';
import { sql } from 'drizzle-orm';
import { getDb, type Tx } from '@/db/client';
import { hasPermission } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { isUuid } from '@/lib/domain/ids';
import { fail, fieldErrorsOf, type Failure, type Refusal, type Result } from '@/lib/domain/result';
import { recordAudit as appendAudit, type AuditEvent } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { keyAccessAs } from '@/lib/platform/crypto/key-access-log';
import { KEYS_UNAVAILABLE_MESSAGE, KeysUnavailableError } from '@/lib/platform/crypto/keys-unavailable';
import { log } from '@/lib/platform/log';
import { plaintextTwin } from '@/lib/platform/plaintext-twin';
import { actorNow, type Actor } from './actor';

/**
 * The one guarded operation. Every PHI read and write and every admin or privacy-officer
 * operation is declared with `operation()` and runs these steps, in this order, so that a new
 * operation cannot forget one:
 *
 *   1. permission   the role must hold it (pure policy, deny by default); a refusal is audited
 *   2. step-up      a password typed now, where the operation asks for one; a wrong one is audited
 *   3. transaction  everything below commits together, refusals included
 *   4. lock         an advisory lock, where concurrent operations must not interleave
 *   5. actor        the viewer re-read under the lock: disabled or signed out since → denied
 *   6. input        zod-parsed; bad input is refused with a plain message and changes nothing
 *   7. authorize    data-dependent checks (care team, break-glass grant, ownership); audited refusal
 *   8. run          the work, which must audit its success in the same transaction
 *   9. result       one Result type; refusals the operation names are audited as denied
 */

import { stepUpMessages, type AuditFacts, type Operation, type OperationContext, type OperationError, type OperationSpec, type OperationSummary } from './spec';

export { stepUpMessages };
export type { AuditFacts, Operation, OperationContext, OperationError, OperationSpec, OperationSummary, RequiredPermission, StepUp, Verdict } from './spec';

/** The trail, and the monitor behind it, or nothing at all in the benchmark's plaintext twin. */
const recordAudit = (tx: Tx, event: AuditEvent): Promise<unknown> => (plaintextTwin() ? Promise.resolve() : appendAudit(tx, event));

const registry = new Map<string, OperationSummary>();

/** Every operation declared in this process, for tests and the architecture docs. */
export function declaredOperations(): OperationSummary[] {
  return [...registry.values()];
}

class MissingAudit extends Error {
  constructor(name: string) {
    super(`Operation ${name} succeeded without an audit entry`);
  }
}

export function operation<I, T, E extends string = Failure, F = undefined>(spec: OperationSpec<I, T, E, F>): Operation<T, E> {
  const summary: OperationSummary = {
    name: spec.name,
    resourceType: spec.resourceType,
    permission: spec.permission ?? null,
    stepUp: Boolean(spec.stepUp),
    lock: Boolean(spec.lock),
    recheckActor: Boolean(spec.recheckActor),
    authorize: Boolean(spec.authorize),
    audits: spec.audits ?? 'success',
  };
  if (registry.has(spec.name)) throw new Error(`Operation ${spec.name} is declared twice`);
  if (spec.recheckActor && !spec.permission) throw new Error(`Operation ${spec.name} re-reads the actor but names no permission`);
  registry.set(spec.name, summary);
  const run = (viewer: Viewer, raw?: unknown, at: Date = clockNow()) => perform(spec, viewer, raw, at);
  return Object.assign(run, { operation: summary });
}

async function perform<I, T, E extends string, F>(
  spec: OperationSpec<I, T, E, F>,
  viewer: Viewer,
  raw: unknown,
  at: Date,
): Promise<Result<T, OperationError<E>>> {
  const action = typeof spec.action === 'function' ? spec.action(raw) : spec.action;
  const target = spec.target?.(raw);
  let targetPatientId: string | null = null;
  const refusalEntry = (reason: string, facts: AuditFacts = {}): AuditEvent => ({
    actor: viewer,
    action: facts.action ?? action,
    resourceType: facts.resourceType ?? spec.resourceType,
    resourceId: facts.resourceId !== undefined ? facts.resourceId : idOrNull(target),
    patientId: facts.patientId ?? targetPatientId,
    breakGlassGrantId: facts.breakGlassGrantId ?? null,
    outcome: 'denied',
    details: { reason, ...facts.details },
    occurredAt: facts.occurredAt,
  });
  const permitted = (permissions: Viewer['permissions']) =>
    !spec.permission || hasPermission(permissions, spec.permission.category, spec.permission.name);
  const refusedPermission = () => fail(spec.deniedError ?? 'denied', spec.deniedMessage);
  const db = await getDb();
  const targetId = idOrNull(target);
  if (spec.targetPatient && targetId) targetPatientId = await spec.targetPatient(db, targetId);

  if (!permitted(viewer.permissions)) {
    await db.transaction((tx) => recordAudit(tx, refusalEntry(spec.denialReason ?? 'no_permission')));
    return refusedPermission();
  }

  /** The audit helpers of one transaction, and whether anything was recorded as allowed. */
  const auditing = (tx: Tx) => {
    const state = { audited: false };
    const unchanged = () => {
      state.audited = true;
    };
    const audit = async (facts: AuditFacts = {}) => {
      state.audited = true;
      await recordAudit(tx, {
        actor: viewer,
        action: facts.action ?? action,
        resourceType: facts.resourceType ?? spec.resourceType,
        resourceId: facts.resourceId ?? null,
        patientId: facts.patientId ?? null,
        breakGlassGrantId: facts.breakGlassGrantId ?? null,
        outcome: 'allowed',
        details: facts.details,
        before: facts.before,
        after: facts.after,
        cipher: facts.cipher,
        occurredAt: facts.occurredAt,
      });
    };
    const auditRefusal = (reason: string, facts?: AuditFacts) => recordAudit(tx, refusalEntry(reason, facts)).then(() => undefined);
    return { state, audit, auditRefusal, unchanged };
  };

  /** Steps 6 and 7: the input, then the data-dependent checks; a refusal, or what passed them. */
  const admit = async (
    base: Omit<OperationContext<I, never>, 'facts' | 'input'>,
  ): Promise<{ refused: Refusal<OperationError<E>> } | { refused: null; input: I; facts: F }> => {
    const parsed = spec.input.safeParse(raw);
    if (!parsed.success) {
      const answer = spec.invalid ? spec.invalid(parsed.error) : fail('invalid', 'Check the highlighted fields.', fieldErrorsOf(parsed.error));
      if (spec.auditInvalid) {
        await base.auditRefusal(answer.error, answer.fieldErrors ? { details: { fields: Object.keys(answer.fieldErrors).sort() } } : undefined);
      }
      return { refused: answer };
    }
    let facts = undefined as F;
    if (spec.authorize) {
      const verdict = await spec.authorize({ ...base, input: parsed.data });
      if (!verdict.allowed) {
        await base.auditRefusal(verdict.reason, {
          patientId: verdict.patientId,
          resourceId: verdict.resourceId,
          details: verdict.details,
          action: verdict.action,
          resourceType: verdict.resourceType,
        });
        return { refused: verdict.answer ?? fail('denied', spec.deniedMessage) };
      }
      facts = verdict.facts;
    }
    return { refused: null, input: parsed.data, facts };
  };

  let recentlyReauthenticated = false;
  if (spec.stepUp) {
    if (spec.stepUp.afterChecks) {
      // A request that would be refused anyway is refused before any password is checked.
      const screened = await db.transaction(async (tx) => {
        const { audit, auditRefusal, unchanged } = auditing(tx);
        return admit({ tx, viewer, actor: null, recentlyReauthenticated: false, at, audit, auditRefusal, unchanged });
      });
      if (screened.refused) return screened.refused;
    }
    const secret = spec.stepUp.secret(raw);
    if (secret) {
      recentlyReauthenticated = await spec.stepUp.by.confirm(viewer, secret, at);
      if (!recentlyReauthenticated) {
        if (!spec.stepUp.selfAudited) await db.transaction((tx) => recordAudit(tx, refusalEntry('reauth_failed')));
        return spec.stepUp.refusal ?? fail('reauth_failed', stepUpMessages.reauth_failed);
      }
    } else {
      recentlyReauthenticated = await spec.stepUp.by.isFresh(viewer, at);
    }
  }

  // Key-store use inside is logged as this viewer's (lib/platform/crypto/key-access-log.ts).
  const outcome = await keysOrRefusal(db, () => refusalEntry('keys_unavailable'), () => keyAccessAs(viewer.userId, () => db.transaction(async (tx): Promise<Result<T, OperationError<E>>> => {
    const { state, audit, auditRefusal, unchanged } = auditing(tx);

    if (spec.lock) {
      // The lock key comes from parsed input when the operation locks per resource, so parse
      // first only for that; a parse failure here is answered below like any other.
      const early = spec.input.safeParse(raw);
      if (early.success) await tx.execute(sql`SELECT pg_advisory_xact_lock(${spec.lock(early.data, viewer)})`);
    }
    let actor: Actor | null = null;
    if (spec.recheckActor) {
      // Fail closed if another admin disabled this viewer or took the permission a moment ago.
      actor = await actorNow(tx, viewer);
      if (!actor || !permitted(actor.permissions)) {
        await auditRefusal(spec.denialReason ?? 'no_permission');
        return refusedPermission();
      }
    }

    const base = { tx, viewer, actor, recentlyReauthenticated, at, audit, auditRefusal, unchanged };
    const admitted = await admit(base);
    if (admitted.refused) return admitted.refused;

    const result = await spec.run({ ...base, input: admitted.input, facts: admitted.facts });
    if (result.ok && !state.audited && (spec.audits ?? 'success') === 'success') throw new MissingAudit(spec.name);
    if (!result.ok && spec.auditedFailures?.includes(result.error)) await auditRefusal(result.error);
    return result;
  })));
  if (outcome.ok) spec.afterCommit?.(outcome.value);
  return outcome;
}

const idShape = /^[A-Za-z0-9_.-]{1,64}$/;

/** A target from the raw request is kept in the trail only if it looks like an id, never free text. */
function idOrNull(target: unknown): string | null {
  if (typeof target !== 'string') return null;
  return isUuid(target) || idShape.test(target) ? target : null;
}

/**
 * Fail closed when the master keys cannot be used (token gone, wrong PIN, a missing version):
 * the work is rolled back and the viewer gets the plain refusal, never a fallback key. The
 * refusal is recorded when the trail can still be written (its key is held from start-up).
 */
async function keysOrRefusal<T, E extends string>(
  db: Awaited<ReturnType<typeof getDb>>,
  entry: () => AuditEvent,
  work: () => Promise<Result<T, OperationError<E>>>,
): Promise<Result<T, OperationError<E>>> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof KeysUnavailableError)) throw error;
    log.error({ problem: error.problem, version: error.version }, 'Master keys unavailable: PHI refused.');
    try {
      await db.transaction((tx) => recordAudit(tx, { ...entry(), details: { reason: 'keys_unavailable', problem: error.problem } }));
    } catch {
      // The trail's own key is unavailable too; the log line above is the record.
    }
    return fail('keys_unavailable', KEYS_UNAVAILABLE_MESSAGE);
  }
}
