import 'server-only';

/** Integrity checks of stored rows, and how a failure is reported. */
export { reportTampering, type TamperReport } from '@/lib/platform/integrity/report';
export {
  authorizationMac,
  checkedRows,
  heldRoleNames,
  intactRow,
  insertRoleRows,
  intactRows,
  macColumns,
  resetAuthorizationMacKey,
  unsetUserMacFields,
  updateWithMac,
  withMac,
  type AuthorizationTable,
} from '@/lib/platform/integrity/authorization-macs';
