import 'server-only';
import { sql } from 'drizzle-orm';
import type { z } from 'zod';
import { getDb, type Queryable, type Tx } from '@/db/client';
import type { CategorisedPermission } from '@/lib/domain/access/permission-names';
import { hasPermission } from '@/lib/domain/access/permissions';
import type { Viewer } from '@/lib/domain/access/viewer';
import { isUuid } from '@/lib/domain/ids';
import { fail, fieldErrorsOf, type Failure, type Refusal, type Result } from '@/lib/domain/result';
import { recordAudit, type AuditEvent } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
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

/** What a viewer is told when an operation needs a password typed now. */
export const stepUpMessages = {
  reauth_required: 'Enter your password to confirm this change.',
  reauth_failed: 'That password is not correct.',
} as const;

/** Who may ask for a step-up, and how a password is checked (lib/features/credentials). */
export interface StepUp {
  /** Checks a password typed now; a wrong one is audited by the checker itself. */
  confirm(viewer: Viewer, secret: string, at: Date): Promise<boolean>;
  /** The viewer confirmed their password within the re-authentication window. */
  /** At the operation's instant, so a window is measured on the operation's one clock reading. */
  isFresh(viewer: Viewer, at: Date): Promise<boolean>;
}

/** A registered permission of its category (lib/domain/access/permission-names.ts). */
export type RequiredPermission = CategorisedPermission;

/** What a data-dependent check decided; refusals are audited with their reason. */
export type Verdict<F, E extends string = Failure> =
  | { allowed: true; facts: F }
  | {
      allowed: false;
      /** Recorded in the refusal entry's details. */
      reason: string;
      /** What the viewer is told (default: denied, with the operation's message). */
      answer?: Refusal<E>;
      patientId?: string | null;
      resourceId?: string | null;
      details?: Record<string, unknown>;
      /** The refusal names what was asked for more precisely than the operation (one chart section's write). */
      action?: AuditEvent['action'];
      resourceType?: string;
    };

export interface AuditFacts {
  resourceId?: string | null;
  patientId?: string | null;
  breakGlassGrantId?: string | null;
  details?: Record<string, unknown>;
  before?: unknown;
  after?: unknown;
  cipher?: AuditEvent['cipher'];
  occurredAt?: Date;
  /** Defaults to the operation's action (some operations record a more precise one). */
  action?: AuditEvent['action'];
  resourceType?: string;
}

export interface OperationContext<I, F> {
  tx: Tx;
  viewer: Viewer;
  input: I;
  /** Facts the authorize step established (relationship, loaded row…). */
  facts: F;
  /** The viewer's roles and permissions under the lock, when the operation re-reads them. */
  actor: Actor | null;
  /** The viewer entered their password within the re-authentication window (or just now). */
  recentlyReauthenticated: boolean;
  /** The operation's clock reading: one instant for the whole operation. */
  at: Date;
  /** Records the operation as allowed, in its transaction. Details must be PHI-free. */
  audit(facts?: AuditFacts): Promise<void>;
  /** Records a refusal (outcome denied) in the transaction, with a reason code. */
  auditRefusal(reason: string, facts?: AuditFacts): Promise<void>;
  /**
   * The request asked for what already holds (roles already as chosen, a client already
   * revoked): nothing was written, so a success without an audit entry is not a missing one.
   */
  unchanged(): void;
}

export interface OperationSpec<I, T, E extends string, F> {
  /** A stable name for the registry, e.g. 'admin.user.set-roles'. */
  name: string;
  /** Audit action of the operation: fixed, or chosen from the raw input (enable vs disable). */
  action: AuditEvent['action'] | ((raw: unknown) => AuditEvent['action']);
  resourceType: string;
  /** Omitted only for operations any signed-in viewer may ask for (their own account). */
  permission?: RequiredPermission;
  /** The message of a permission refusal. */
  deniedMessage: string;
  /** The reason recorded for a permission refusal (default `no_permission`). */
  denialReason?: string;
  /** The code of a permission refusal, where callers tell it apart (default `denied`). */
  deniedError?: E;
  /** The target the raw request names, kept in refusal entries only if it has an id's shape. */
  target?: (raw: unknown) => unknown;
  /**
   * The target names a patient: its id if that patient exists, so every refusal entry (the
   * permission's included) carries the patient, as the accounting of disclosures needs.
   */
  targetPatient?: (q: Queryable, targetId: string) => Promise<string | null>;
  input: z.ZodType<I>;
  /** How bad input is answered (default: field errors and "Check the highlighted fields."). */
  invalid?: (error: z.ZodError) => Refusal<E | 'invalid'>;
  /** Bad input is a refusal worth recording: audited with the answer's code and the fields at fault (never their values). */
  auditInvalid?: boolean;
  stepUp?: {
    by: StepUp;
    /** The password the form carried, if any; without one the window decides. */
    secret: (raw: unknown) => string | null | undefined;
    /**
     * Check the input and run `authorize` first (refusals audited), so a request that would be
     * refused anyway costs no password attempt; both run again under the lock after the step-up.
     */
    afterChecks?: boolean;
    /** What a wrong password is answered with (default `stepUpMessages.reauth_failed`). */
    refusal?: Refusal<'reauth_failed'>;
    /** The operation is the password check itself, whose checker records both outcomes: no second refusal entry. */
    selfAudited?: boolean;
  };
  /** Serialises operations that must not interleave (e.g. every admin change, one patient's section). */
  lock?: (input: I, viewer: Viewer) => number;
  /** Re-read the viewer under the lock and re-check the permission (needs `permission`). */
  recheckActor?: boolean;
  authorize?: (ctx: Omit<OperationContext<I, never>, 'facts'>) => Promise<Verdict<F, E>>;
  run: (ctx: OperationContext<I, F>) => Promise<Result<T, E>>;
  /** Work that must wait until the change is committed (forgetting a per-process cache). */
  afterCommit?: (value: T) => void;
  /** Failures of `run` that are refusals of policy, written to the trail as denied. */
  auditedFailures?: readonly E[];
  /**
   * 'success' (default): an allowed operation that recorded no audit entry is a bug, and the
   * transaction is rolled back. 'refusals': a non-PHI read (an admin list) audits refusals only.
   */
  audits?: 'success' | 'refusals';
}

export type OperationError<E extends string> = E | 'denied' | 'invalid' | 'reauth_failed';

/** A declared operation: call it with the viewer and the raw request. */
export interface Operation<T, E extends string = Failure> {
  (viewer: Viewer, raw?: unknown, at?: Date): Promise<Result<T, OperationError<E>>>;
  readonly operation: OperationSummary;
}

export interface OperationSummary {
  name: string;
  resourceType: string;
  permission: RequiredPermission | null;
  stepUp: boolean;
  lock: boolean;
  recheckActor: boolean;
  authorize: boolean;
  audits: 'success' | 'refusals';
}

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

  const outcome = await db.transaction(async (tx): Promise<Result<T, OperationError<E>>> => {
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
  });
  if (outcome.ok) spec.afterCommit?.(outcome.value);
  return outcome;
}

const idShape = /^[A-Za-z0-9_.-]{1,64}$/;

/** A target from the raw request is kept in the trail only if it looks like an id, never free text. */
function idOrNull(target: unknown): string | null {
  if (typeof target !== 'string') return null;
  return isUuid(target) || idShape.test(target) ? target : null;
}
