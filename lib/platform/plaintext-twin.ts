import 'server-only';
import { env } from '@/lib/platform/env';
import { isProductionMode } from '@/lib/platform/mode';

/**
 * The load benchmark's plaintext twin: the same portal, pages and queries with values stored in
 * clear, no audit entries and no monitoring, so the benchmark can measure what security costs
 * per operation. It exists to be measured against, never to be run: the switch reads as off in
 * production mode whatever VIGIL_BENCH_PLAINTEXT_TWIN says (and start-up refuses the variable
 * there), so a production server cannot be made to skip a security step by its environment.
 */
export function plaintextTwin(): boolean {
  return env().VIGIL_BENCH_PLAINTEXT_TWIN && !isProductionMode();
}
