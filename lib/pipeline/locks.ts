/**
 * Advisory lock keys of operations that must not interleave (pg_advisory_xact_lock, released at
 * commit). Any numbers, so long as every operation of a kind takes the same one.
 */
export const locks = {
  /** Every administrative change, so rule checks ("is this the last admin?") cannot race. */
  adminChange: 0x76_61_64_6d,
  /** One emergency-access request at a time per user: two tabs posting at once cannot stack two grants. */
  breakGlassRequest: (userId: string) => keyOf(`break_glass:${userId}`),
} as const;

/** A 32-bit key for one named resource (FNV-1a): stable across processes, so every instance takes the same lock. */
function keyOf(name: string): number {
  let hash = 0x81_1c_9d_c5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01_00_01_93);
  return hash | 0;
}
