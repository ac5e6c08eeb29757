import 'server-only';
import { and, asc, count, desc, eq, gt, isNotNull, isNull, lt, notInArray, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db } from '@/db/client';
import { keyRotations, patientKeys } from '@/db/schema';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { rewrapDataKey } from '@/lib/platform/crypto/data-keys';
import { DecryptionError } from '@/lib/platform/crypto/envelope';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { Pkcs11KeyProvider } from '@/lib/platform/crypto/pkcs11/provider';
import { auditActions } from '@/lib/domain/audit/actions';

export const DEFAULT_ROTATION_BATCH = 500;

/** Serialises the start of rotations (two operators at once resume one rotation, not two). */
const ROTATION_START_LOCK = 0x76_69_6b_72;

export interface RotationOptions {
  /** Data keys re-wrapped per transaction. */
  batchSize?: number;
  /**
   * Rotate to the provider's current version instead of adding one: for providers whose
   * versions are added outside Vigil (VIGIL_MASTER_KEYS, a KMS), or to sweep up stragglers.
   */
  toCurrent?: boolean;
  /** After a complete rotation, retire every older version that no data key still uses. */
  retire?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Fault injection for tests: stop as a kill would, after this many committed batches. */
  failAfterBatches?: number;
  /** Who runs it, for the audit trail (a CLI run has no user). */
  actor?: AuditActor;
  /**
   * Move from the key file into the PKCS#11 token: the file's blind-index and system keys are
   * encrypted into the token, every data key is re-wrapped under a new master key made in the
   * token, and the file's versions are retired, after which the key file can be deleted.
   */
  toPkcs11?: boolean;
}

export interface RotationResult {
  rotationId: string;
  targetVersion: number;
  /** True when this run continued a rotation that an earlier run left unfinished. */
  resumed: boolean;
  /** Data keys re-wrapped by this run, and by every run of this rotation. */
  rewrapped: number;
  totalRewrapped: number;
  batches: number;
  retired: number[];
  /** Older versions still in use (only when retiring was asked for). */
  stillReferenced: number[];
}

/** The injected fault: the rotation stopped after some batches and must be resumed. */
export class RotationInterrupted extends Error {
  constructor(readonly batches: number) {
    super(`Key rotation interrupted after ${batches} batch(es) (injected fault); run it again to resume.`);
    this.name = 'RotationInterrupted';
  }
}

const cliActor: AuditActor = { userId: null, ip: null, userAgent: 'vigil keys:rotate' };

/**
 * Online master-key rotation. Adds a master key version (or resumes the unfinished rotation),
 * then re-wraps every live data key from older versions in batches. Each batch is its own short
 * transaction: an optimistic `WHERE master_key_version = <old>` update, the progress counter and
 * one audit entry commit together, so a kill at any point loses nothing and a rerun resumes.
 * There is no global lock: the portal keeps reading and writing throughout, because a data key
 * itself never changes (cached keys stay valid) and every version stays able to unwrap.
 */
export async function rotateMasterKeys(db: Db, options: RotationOptions = {}): Promise<RotationResult> {
  if (!options.toPkcs11) return rotateOnce(db, options);
  const provider = getKeyProvider();
  if (!(provider instanceof Pkcs11KeyProvider)) {
    throw new Error('--to pkcs11 needs VIGIL_KEY_PROVIDER=pkcs11 and the token configured (the key file stays readable until retired).');
  }
  if (provider.importSecrets()) {
    await db.transaction((tx) =>
      recordAudit(tx, {
        actor: options.actor ?? cliActor,
        action: auditActions.key.importSecrets,
        resourceType: 'master_key',
        resourceId: null,
        outcome: 'allowed',
        details: { into: provider.name },
      }),
    );
  }
  // An unfinished rotation to a file version is finished first; then one more lands in the token.
  let result = await rotateOnce(db, { ...options, retire: true });
  if (!provider.inToken(result.targetVersion)) result = await rotateOnce(db, { ...options, retire: true, toCurrent: false });
  return result;
}

async function rotateOnce(db: Db, options: RotationOptions): Promise<RotationResult> {
  const batchSize = options.batchSize ?? DEFAULT_ROTATION_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('The batch size must be a positive whole number.');
  const actor = options.actor ?? cliActor;
  const provider = getKeyProvider();
  const { rotation, resumed } = await startOrResume(db, options.toCurrent ?? false, actor);
  const target = rotation.targetVersion;
  if (!provider.versions().includes(target)) {
    throw new Error(`Master key version ${target} (the rotation's target) is not in the key store (${provider.name}).`);
  }

  const live = (extra?: SQL) =>
    and(lt(patientKeys.masterKeyVersion, target), isNull(patientKeys.shreddedAt), isNotNull(patientKeys.wrappedKey), extra);
  const [{ remaining } = { remaining: 0 }] = await db.select({ remaining: count() }).from(patientKeys).where(live());
  const total = rotation.rewrapped + remaining;
  let rewrapped = 0;
  let batches = 0;
  /** Keys whose wrap will not open: left for an operator, and the rotation stays unfinished. */
  const unopenable: string[] = [];
  options.onProgress?.(rotation.rewrapped, total);

  // Walk the keys in id order; a final pass from the start catches keys that a concurrent write
  // (or a portal that had not yet seen the new version) left behind the cursor.
  let cursor: string | null = null;
  for (;;) {
    const batch = await db
      .select({ patientId: patientKeys.patientId, wrappedKey: patientKeys.wrappedKey, version: patientKeys.masterKeyVersion })
      .from(patientKeys)
      .where(
        live(
          and(
            cursor ? gt(patientKeys.patientId, cursor) : undefined,
            unopenable.length > 0 ? notInArray(patientKeys.patientId, unopenable) : undefined,
          ),
        ),
      )
      .orderBy(asc(patientKeys.patientId))
      .limit(batchSize);
    if (batch.length === 0) {
      if (cursor === null) break;
      cursor = null;
      continue;
    }
    cursor = batch.at(-1)!.patientId;

    const rewraps: Array<{ patientId: string; wrapped: string; from: number }> = [];
    for (const key of batch) {
      try {
        rewraps.push({ patientId: key.patientId, wrapped: rewrapDataKey(key.wrappedKey!, key.patientId, key.version, target), from: key.version });
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        unopenable.push(key.patientId);
      }
    }
    if (rewraps.length === 0) continue;
    const updated = await db.transaction(async (tx) => {
      const values = sql.join(
        rewraps.map((r) => sql`(${r.patientId}::uuid, ${r.wrapped}::text, ${r.from}::int)`),
        sql`, `,
      );
      const result = await tx.execute(sql`
        UPDATE patient_keys AS k
        SET wrapped_key = v.wrapped, master_key_version = ${target}::int, rotated_at = now()
        FROM (VALUES ${values}) AS v(patient_id, wrapped, from_version)
        WHERE k.patient_id = v.patient_id AND k.master_key_version = v.from_version AND k.shredded_at IS NULL
        RETURNING k.patient_id`);
      const n = rowsOf(result).length;
      await tx
        .update(keyRotations)
        .set({ rewrapped: sql`${keyRotations.rewrapped} + ${n}` })
        .where(eq(keyRotations.id, rotation.id));
      await recordAudit(tx, {
        actor,
        action: auditActions.key.rotate,
        resourceType: 'master_key',
        resourceId: String(target),
        outcome: 'allowed',
        details: {
          rotationId: rotation.id,
          batch: batches + 1,
          rewrapped: n,
          // Changed or shredded by someone else between the read and the update: picked up again.
          skipped: rewraps.length - n,
          fromVersions: [...new Set(rewraps.map((r) => r.from))].sort((a, b) => a - b),
          toVersion: target,
        },
      });
      return n;
    });
    rewrapped += updated;
    batches += 1;
    options.onProgress?.(Math.min(total, rotation.rewrapped + rewrapped), total);
    if (options.failAfterBatches !== undefined && batches >= options.failAfterBatches) throw new RotationInterrupted(batches);
  }

  if (unopenable.length > 0) {
    throw new Error(
      `${unopenable.length} data key(s) could not be unwrapped and were left on their old master key; ` +
        `the rotation stays open. Restore or shred these patients' keys, then run it again: ${unopenable.join(', ')}`,
    );
  }

  const totalRewrapped = rotation.rewrapped + rewrapped;
  await db.transaction(async (tx) => {
    await tx.update(keyRotations).set({ finishedAt: new Date() }).where(eq(keyRotations.id, rotation.id));
    await recordAudit(tx, {
      actor,
      action: auditActions.key.rotateFinish,
      resourceType: 'master_key',
      resourceId: String(target),
      outcome: 'allowed',
      details: { rotationId: rotation.id, toVersion: target, rewrapped: totalRewrapped },
    });
  });

  const { retired, stillReferenced } = options.retire ? await retireUnused(db, target, actor) : { retired: [], stillReferenced: [] };
  return { rotationId: rotation.id, targetVersion: target, resumed, rewrapped, totalRewrapped, batches, retired, stillReferenced };
}

/** The unfinished rotation if there is one; otherwise a new one with a new target version. */
async function startOrResume(db: Db, toCurrent: boolean, actor: AuditActor) {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROTATION_START_LOCK})`);
    const [open] = await tx
      .select()
      .from(keyRotations)
      .where(isNull(keyRotations.finishedAt))
      .orderBy(desc(keyRotations.startedAt))
      .limit(1);
    if (open) return { rotation: open, resumed: true };
    const provider = getKeyProvider();
    // A version added here but never recorded (a crash before commit) is simply unused.
    const targetVersion = toCurrent ? provider.currentVersion() : await provider.addVersion();
    const [rotation] = await tx.insert(keyRotations).values({ targetVersion }).returning();
    await recordAudit(tx, {
      actor,
      action: auditActions.key.rotateStart,
      resourceType: 'master_key',
      resourceId: String(targetVersion),
      outcome: 'allowed',
      details: { rotationId: rotation!.id, toVersion: targetVersion, newVersion: !toCurrent },
    });
    return { rotation: rotation!, resumed: false };
  });
}

/** Retires each older version that no live data key is wrapped with any more (once). */
async function retireUnused(db: Db, target: number, actor: AuditActor): Promise<{ retired: number[]; stillReferenced: number[] }> {
  const provider = getKeyProvider();
  const retired: number[] = [];
  const stillReferenced: number[] = [];
  for (const version of provider.versions().filter((v) => v < target)) {
    const [{ n } = { n: 0 }] = await db
      .select({ n: count() })
      .from(patientKeys)
      .where(and(eq(patientKeys.masterKeyVersion, version), isNotNull(patientKeys.wrappedKey)));
    if (n > 0) {
      stillReferenced.push(version);
      continue;
    }
    if (!(await provider.retireVersion(version))) continue;
    await db.transaction((tx) =>
      recordAudit(tx, {
        actor,
        action: auditActions.key.retire,
        resourceType: 'master_key',
        resourceId: String(version),
        outcome: 'allowed',
        details: { version, currentVersion: target },
      }),
    );
    retired.push(version);
  }
  return { retired, stillReferenced };
}
