import 'server-only';
import type { z } from 'zod';
import type { Queryable, Tx } from '@/db/client';
import type { CategorisedPermission } from '@/lib/domain/access/permission-names';
import type { Viewer } from '@/lib/domain/access/viewer';
import type { Failure, Refusal, Result } from '@/lib/domain/result';
import type { AuditEvent } from '@/lib/platform/audit';
import type { Actor } from './actor';

/** The declaration of a guarded operation: what `operation()` (./operation.ts) is given and gives back. */

/** What a viewer is told when an operation needs a password typed now. */
export const stepUpMessages = {
  reauth_required: 'Enter your password to confirm this change.',
  reauth_failed: 'That password is not correct.',
} as const;

/** Who may ask for a step-up, and how a password is checked (lib/features/credentials). */
export interface StepUp {
  /** Checks a password typed now; a wrong one is audited by the checker itself. */
  confirm(viewer: Viewer, secret: string, at: Date): Promise<boolean>;
  /**
   * The viewer confirmed their password within the re-authentication window, measured at the
   * operation's instant (its one clock reading).
   */
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

/** `keys_unavailable`: the master keys cannot be used (lib/platform/crypto/keys-unavailable.ts). */
export type OperationError<E extends string> = E | 'denied' | 'invalid' | 'reauth_failed' | 'keys_unavailable' | 'database_unavailable';

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
