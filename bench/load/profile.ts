/**
 * Where the portal's CPU goes: a V8 CPU profile of the production server (`node --cpu-prof`,
 * written when the server exits) summarised as the top functions by self time, and the time of
 * every sample attributed to one step of a request by the innermost of our own functions on its
 * stack (an async function's continuation runs with that function at the base of its stack, so
 * the time after an await is counted where it belongs). The build is made with `--no-mangling`,
 * so function names survive bundling.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The steps of a request, each named by the functions that do it; the first step whose pattern
 * matches a frame, looking from the innermost frame outwards, takes the sample. Order matters
 * only between a step and the steps it calls (the audit append calls the monitor's listener).
 */
export const REQUEST_STEPS: Array<{ step: string; functions: RegExp }> = [
  { step: 'monitoring', functions: /^(judgeAccess|countAccess|monitorListener|onAuditEntry|recordAccess|evaluate\w*Rules?|checkRules|updateProfile|surnameMatch\w*)$/ },
  { step: 'audit append', functions: /^(recordAudit|appendEntry|insertEntry|appendAudit|chainHash|entryHash|canonical\w*|hashEntry|sealAuditState|runListeners)$/ },
  { step: 'key unwrap', functions: /^(getPatientCiphers|getPatientCipher|unwrap|unwrapKey|noted|noteKeyAccess)$/ },
  { step: 'decryption and sealing', functions: /^(openJson|openBytes|sealJson|sealBytes|openPage|sealPage|packEntries|listCards)$/ },
  { step: 'authorization', functions: /^(loadRelationship|reachablePatientIds|decide|hasPermission|matchesPattern|actorNow|authorize\w*|unionPermissions)$/ },
  { step: 'session check', functions: /^(checkSession|resolveViewerState|loadRolesAndPermissions|stateFor|currentSessionId|sessionIdInCookie|getViewerState|requireViewer\w*|jwtDecrypt|decode|auth)$/ },
  { step: 'database driver', functions: /^(execute|preparedRows|handle|parseRow|Query|mapResultRow|sqlToQuery|buildQueryFromSourceParams|prepareQuery|query|values|data|DataRow|RowDescription|ReadyForQuery|CommandComplete|BindComplete|ParseComplete|nextWrite|write|build|Bind|Parse)$/ },
  { step: 'rendering (React)', functions: /^(renderElement|renderNode\w*|renderChildrenArray|retryTask|retryNode|performWork|renderToReadableStream|renderToHTML\w*|renderWithHooks|finishFunctionComponent|renderSuspenseBoundary|pushStartInstance|pushStartGenericElement|flushCompletedQueues|writeChunk\w*|encodeHTMLTextNode|escapeTextForBrowser)$/ },
  { step: 'RSC serialisation', functions: /^(renderModel\w*|emitChunk|serializeModel|resolveModelToJSON|emitModelChunk|processFullStringRow|renderFragment|outlineModel|attemptResolveElement|stringify)$/ },
];

export interface ProfileSummary {
  file: string;
  sampledMs: number;
  topSelf: Array<{ function: string; ms: number; share: number }>;
  steps: Array<{ step: string; ms: number; share: number }>;
}

const label = (n: ProfileNode) => {
  const name = n.callFrame.functionName || '(anonymous)';
  const file = n.callFrame.url ? path.basename(n.callFrame.url).replace(/\?.*$/, '') : '';
  return file ? `${name} (${file.length > 40 ? `${file.slice(0, 37)}…` : file})` : name;
};

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let total = 0;
  const selfByLabel = new Map<string, number>();
  const stepOf = new Map<number, string>();
  const steps = new Map<string, number>();
  for (const [id, us] of self) {
    if (idle.has(id)) continue;
    total += us;
    const node = byId.get(id)!;
    selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + us);
    if (!stepOf.has(id)) {
      let step = node.callFrame.functionName === '(garbage collector)' ? 'garbage collection' : 'other (Next, Node, libraries)';
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = byId.get(at)!.callFrame.functionName;
        const found = REQUEST_STEPS.find((s) => s.functions.test(name));
        if (found) {
          step = found.step;
          break;
        }
      }
      stepOf.set(id, step);
    }
    steps.set(stepOf.get(id)!, (steps.get(stepOf.get(id)!) ?? 0) + us);
  }
  const ms = (us: number) => Math.round(us / 100) / 10;
  const share = (us: number) => Math.round((us / Math.max(1, total)) * 1000) / 10;
  return {
    file: path.basename(file),
    sampledMs: ms(total),
    topSelf: [...selfByLabel].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ function: fn, ms: ms(us), share: share(us) })),
    steps: [...steps].sort((a, b) => b[1] - a[1]).map(([step, us]) => ({ step, ms: ms(us), share: share(us) })),
  };
}

/** The largest profile in `dir` (the server's; Next's short-lived helpers write small ones). */
export function serverProfile(dir: string): string | null {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  if (files.length === 0) return null;
  return files.map((f) => ({ f, size: readFileSync(f).length })).sort((a, b) => b.size - a.size)[0]!.f;
}
