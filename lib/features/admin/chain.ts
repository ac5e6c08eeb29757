import 'server-only';
import { inArray } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { roles, userRoles, users } from '@/db/schema';
import type { PermissionSet } from '@/lib/domain/access/permissions';
import { isPrivileged } from '@/lib/domain/access/two-person';

/** Deeper than any real line of administrators; a longer (or looping) one stops here, already refused by its first links. */
const MAX_DEPTH = 16;

/**
 * The chain of each account (lib/domain/access/two-person.ts): the account, and through every
 * privileged role it holds, whoever created it or granted that role, and their chains in turn.
 * Read from the accounts and their role rows as they stand, so accounts made before requests
 * existed are judged the same way.
 */
export async function chainOf(q: Queryable, userId: string): Promise<Set<string>> {
  const privilegedRoles = new Set(
    (await q.select({ name: roles.name, permissions: roles.permissions }).from(roles)).filter((r) => isPrivileged(r.permissions as PermissionSet)).map((r) => r.name),
  );
  const chain = new Set<string>([userId]);
  let frontier = [userId];
  for (let depth = 0; depth < MAX_DEPTH && frontier.length > 0; depth++) {
    const held = await q.select({ userId: userRoles.userId, roleName: userRoles.roleName, grantedBy: userRoles.grantedBy }).from(userRoles).where(inArray(userRoles.userId, frontier));
    const privileged = held.filter((r) => privilegedRoles.has(r.roleName));
    const holders = [...new Set(privileged.map((r) => r.userId))];
    const creators = holders.length ? await q.select({ createdBy: users.createdBy }).from(users).where(inArray(users.id, holders)) : [];
    const makers = [...privileged.map((r) => r.grantedBy), ...creators.map((r) => r.createdBy)].filter((id): id is string => Boolean(id) && !chain.has(id!));
    frontier = [...new Set(makers)];
    for (const id of frontier) chain.add(id);
  }
  return chain;
}
