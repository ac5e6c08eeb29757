import 'server-only';

/** Integrity checks of stored rows, and how a failure is reported. */
export { reportTampering, type TamperReport } from '@/lib/platform/integrity/report';
