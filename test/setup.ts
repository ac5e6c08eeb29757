/**
 * Runs before every test file, as the server's instrumentation.ts does before its first request:
 * access monitoring is on wherever an audited PHI access can happen, whichever module a test
 * imports first.
 */
import { registerMonitoring } from '@/lib/features/monitor';

registerMonitoring();
