/**
 * The house plan, tested (docs/architecture.md). The layer and cycle rules of
 * .dependency-cruiser.cjs hold for the real tree, and each of them fails on a planted violation:
 * a rule whose path no longer matches anything (a folder renamed, a typo) would otherwise pass
 * for ever. Feature folders form no cycle either, which module-level acyclicity does not imply.
 * Last, the repository's text refers only to itself, and every path the documents name exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What scripts/security-checks.sh cruises; keep the two lists the same. */
const TREE = ['lib', 'app', 'components', 'db', 'instrumentation.ts', 'proxy.ts'];

/** Cruises `roots` under `baseDir` with the repository's rule set and that directory's tsconfig. */
async function cruiseWithHouseRules(baseDir: string, roots: string[], extra: ICruiseOptions = {}): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(path.join(ROOT, '.dependency-cruiser.cjs'));
  const tsConfig = path.join(baseDir, 'tsconfig.json');
  const { output } = await cruise(
    roots,
    { ...options, ...extra, baseDir, tsConfig: { fileName: tsConfig } },
    undefined,
    { tsConfig: extractTSConfig(tsConfig) },
  );
  if (typeof output === 'string') throw new Error('dependency-cruiser returned a report instead of a result');
  return output;
}

const violationsOf = (result: ICruiseResult) =>
  result.summary.violations.map((violation) => `${violation.from} -> ${violation.to} (${violation.rule.name})`);

/**
 * The first cycle in the graph of lib/features/* folders (an edge wherever a module of one imports
 * a module of another), as folder names ending where they start; undefined when there is none.
 */
function featureFolderCycle(result: ICruiseResult): string[] | undefined {
  const folderOf = (file: string) => /^lib\/features\/[^/]+/.exec(file)?.[0];
  const edges = new Map<string, Set<string>>();
  for (const cruised of result.modules) {
    const from = folderOf(cruised.source);
    if (!from) continue;
    for (const dependency of cruised.dependencies) {
      const to = folderOf(dependency.resolved);
      if (to && to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  const acyclic = new Set<string>();
  const visit = (folder: string, trail: string[]): string[] | undefined => {
    const start = trail.indexOf(folder);
    if (start >= 0) return [...trail.slice(start), folder];
    if (acyclic.has(folder)) return undefined;
    for (const next of edges.get(folder) ?? []) {
      const cycle = visit(next, [...trail, folder]);
      if (cycle) return cycle;
    }
    acyclic.add(folder);
    return undefined;
  };
  for (const folder of edges.keys()) {
    const cycle = visit(folder, []);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Builds a small tree in a temporary directory outside the repository (the working tree is
 * shared: a planted file inside it would fail a colleague's concurrent check), cruises it with the
 * house rules and removes it. Its node_modules is a link to ours, kept as a link in the graph, so
 * packages appear as `node_modules/...` exactly as they do in the real tree.
 */
async function cruiseFixture(files: Record<string, string>, roots: string[]): Promise<ICruiseResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-architecture-'));
  const link = path.join(dir, 'node_modules');
  try {
    symlinkSync(path.join(ROOT, 'node_modules'), link, 'dir');
    const tsconfig = { compilerOptions: { baseUrl: '.', paths: { '@/*': ['./*'] }, module: 'esnext', moduleResolution: 'bundler', jsx: 'react-jsx' } };
    for (const [file, text] of Object.entries({ ...files, 'tsconfig.json': JSON.stringify(tsconfig) })) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    return await cruiseWithHouseRules(dir, roots, { preserveSymlinks: true });
  } finally {
    // The link first, so removing the directory can never reach into the real node_modules.
    if (existsSync(link)) unlinkSync(link);
    rmSync(dir, { recursive: true, force: true });
  }
}

const FIXTURE_ROOTS = ['lib', 'app', 'components', 'db'];

/** A well-formed miniature of the layers: every import here is allowed. */
const LAYERS: Record<string, string> = {
  'db/client.ts': 'export const db = {};\n',
  'db/schema.ts': 'export const users = {};\n',
  'lib/domain/rules.ts': "import 'server-only';\nimport { z } from 'zod';\nexport const rule = z.string();\n",
  'lib/platform/audit/append.ts': "import { db } from '@/db/client';\nimport { rule } from '@/lib/domain/rules';\nexport const append = [db, rule];\n",
  'lib/platform/crypto/envelope.ts': 'export const seal = 1;\n',
  'lib/pipeline/operation.ts': "import { append } from '@/lib/platform/audit/append';\nexport const operation = append;\n",
  'lib/features/records/chart.ts': "import { operation } from '@/lib/pipeline/operation';\nimport { seal } from '@/lib/platform/crypto/envelope';\nexport const getChart = [operation, seal];\n",
  'lib/features/notify/deliver.ts': "import { db } from '@/db/client';\nexport const deliver = db;\n",
  'lib/ops/keys/rotation.ts': "import { getChart } from '@/lib/features/records/chart';\nexport const rotate = getChart;\n",
  'app/page.tsx': "import { getChart } from '@/lib/features/records/chart';\nexport default function Page() { return getChart; }\n",
  'components/chart.tsx': "import { rule } from '@/lib/domain/rules';\nexport const Chart = () => rule;\n",
};

/** One import against the grain per rule (and per kind of target), with the rule that must refuse it. */
const BACK_IMPORTS: { file: string; imports: string; rule: string }[] = [
  { file: 'lib/domain/uses-db.ts', imports: '@/db/client', rule: 'domain-is-pure' },
  { file: 'lib/domain/uses-platform.ts', imports: '@/lib/platform/audit/append', rule: 'domain-is-pure' },
  { file: 'lib/domain/uses-feature.ts', imports: '@/lib/features/records/chart', rule: 'domain-is-pure' },
  { file: 'lib/domain/uses-package.ts', imports: 'drizzle-orm', rule: 'domain-is-pure' },
  { file: 'lib/domain/uses-node.ts', imports: 'node:fs', rule: 'domain-is-pure' },
  { file: 'lib/platform/uses-pipeline.ts', imports: '@/lib/pipeline/operation', rule: 'platform-below-pipeline' },
  { file: 'lib/platform/uses-feature.ts', imports: '@/lib/features/records/chart', rule: 'platform-below-pipeline' },
  { file: 'db/schema.ts', imports: '@/lib/features/records/chart', rule: 'platform-below-pipeline' },
  { file: 'lib/pipeline/uses-feature.ts', imports: '@/lib/features/records/chart', rule: 'pipeline-below-features' },
  { file: 'lib/features/records/uses-ops.ts', imports: '@/lib/ops/keys/rotation', rule: 'features-below-ops' },
  { file: 'lib/ops/uses-app.ts', imports: '@/app/page', rule: 'lib-below-app' },
  { file: 'app/uses-db.ts', imports: '@/db/client', rule: 'app-never-db-or-keys' },
  { file: 'app/uses-keys.ts', imports: '@/lib/platform/crypto/envelope', rule: 'app-never-db-or-keys' },
  { file: 'components/uses-audit.tsx', imports: '@/lib/platform/audit/append', rule: 'app-never-db-or-keys' },
  { file: 'app/uses-ops.ts', imports: '@/lib/ops/keys/rotation', rule: 'app-never-db-or-keys' },
];

describe('layer boundaries (.dependency-cruiser.cjs)', () => {
  let tree: ICruiseResult;
  beforeAll(async () => {
    tree = await cruiseWithHouseRules(ROOT, TREE);
  });

  it('the real tree breaks no rule', () => {
    // The cruise saw the tree (a wrong base directory would find nothing and pass).
    expect(tree.modules.filter((cruised) => /^lib\/(domain|platform|pipeline|features|ops)\//.test(cruised.source)).length).toBeGreaterThan(100);
    expect(tree.modules.some((cruised) => cruised.source.startsWith('app/'))).toBe(true);
    expect(violationsOf(tree)).toEqual([]);
  });

  it('the real tree has no cycle between feature folders', () => {
    expect(featureFolderCycle(tree)?.join(' -> ')).toBeUndefined();
  });

  it('the miniature of the layers is clean, so a planted violation is all a rule can catch there', async () => {
    expect(violationsOf(await cruiseFixture(LAYERS, FIXTURE_ROOTS))).toEqual([]);
  });

  it('every planted back import is refused by its rule, and only by it', async () => {
    const planted = Object.fromEntries(BACK_IMPORTS.map(({ file, imports }) => [file, `import * as planted from '${imports}';\nexport const uses = planted;\n`]));
    const result = await cruiseFixture({ ...LAYERS, ...planted }, FIXTURE_ROOTS);
    const refused = result.summary.violations.map((violation) => `${violation.from} (${violation.rule.name})`).sort();
    expect(refused).toEqual(BACK_IMPORTS.map(({ file, rule }) => `${file} (${rule})`).sort());
  });

  it('a planted import cycle is refused', async () => {
    const result = await cruiseFixture(
      {
        ...LAYERS,
        'lib/features/records/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
        'lib/features/records/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      },
      FIXTURE_ROOTS,
    );
    // The summary names a cycle once, by the first edge the cruise met.
    expect(violationsOf(result)).toEqual(['lib/features/records/a.ts -> lib/features/records/b.ts (no-cycles)']);
  });

  it('a planted cycle between feature folders is found, though no module cycle exists', async () => {
    const result = await cruiseFixture(
      {
        ...LAYERS,
        'lib/features/records/alerts.ts': "import { deliver } from '@/lib/features/notify/deliver';\nexport const alert = deliver;\n",
        'lib/features/notify/patient-name.ts': "import { getChart } from '@/lib/features/records/chart';\nexport const name = getChart;\n",
      },
      FIXTURE_ROOTS,
    );
    expect(violationsOf(result)).toEqual([]);
    expect(new Set(featureFolderCycle(result))).toEqual(new Set(['lib/features/records', 'lib/features/notify']));
  });
});

/** Every file git would commit: tracked ones still present, and new ones not ignored. */
function repositoryFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file && existsSync(path.join(ROOT, file)));
}

function textOf(file: string): string | undefined {
  const bytes = readFileSync(path.join(ROOT, file));
  return bytes.includes(0) ? undefined : bytes.toString('utf8');
}

// Written so that this file does not match them itself.
const OUTSIDE_REFERENCES: { pattern: RegExp; what: string }[] = [
  { pattern: /\.\.\/shared\b/, what: 'a directory beside the repository' },
  { pattern: /\b(?:DESIGN|STYLE)\.md\b/, what: 'a design or style document that is not in the repository' },
  { pattern: /\bissues? #?\d+/i, what: 'an issue-tracker number' },
  { pattern: /\(#\d+\)/, what: 'an issue-tracker number' },
];

/** Paths under these roots in the documents must exist. */
const PATH_MENTION = /(?<![\w./-])(?:lib|app|components|db|scripts|test|e2e|bench)\/[\w./*()[\]-]*/g;

/** A mention as written, less sentence punctuation and a closing bracket it does not open. */
function trimMention(mention: string): string {
  let trimmed = mention.replace(/[.,:;]+$/, '');
  for (const [open, close] of [['(', ')'], ['[', ']']] as const) {
    while (trimmed.endsWith(close) && trimmed.split(open).length < trimmed.split(close).length) trimmed = trimmed.slice(0, -1);
  }
  return trimmed;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\*\*\//g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '(?:.*/)?')}$`);
}

describe('the repository refers only to itself', () => {
  const files = repositoryFiles();

  it('no file points outside the repository (sibling folders, absent documents, tracker numbers)', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = textOf(file);
      if (text === undefined) continue;
      text.split('\n').forEach((line, index) => {
        for (const { pattern, what } of OUTSIDE_REFERENCES) if (pattern.test(line)) found.push(`${file}:${index + 1} names ${what}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('every path README.md, SECURITY.md and docs/ name exists', () => {
    const documents = ['README.md', 'SECURITY.md', ...readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];
    const missing: string[] = [];
    for (const document of documents) {
      for (const [mention] of readFileSync(path.join(ROOT, document), 'utf8').matchAll(PATH_MENTION)) {
        const mentioned = trimMention(mention);
        const exists = mentioned.includes('*')
          ? files.some((file) => globToRegExp(mentioned).test(file))
          : ['', '.ts', '.tsx'].some((extension) => existsSync(path.join(ROOT, mentioned + extension)));
        if (!exists) missing.push(`${document}: ${mentioned}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the module map of docs/architecture.md lists every lib/ module', () => {
    const map = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
    const modules = files.filter((file) => /^lib\/.*\.tsx?$/.test(file) && !/\.test\.tsx?$/.test(file));
    expect(modules.filter((listed) => !map.includes(`\`${listed}\` — `))).toEqual([]);
  });
});
