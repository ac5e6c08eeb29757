/**
 * Every way into the server from app/ is one of three declarations (lib/features/auth/entry.ts):
 * `guardedAction(...)`, `guardedRoute(...)` or `publicEntry(name, whyPublic, handler)`. A server
 * action or route handler written any other way would decide for itself who may ask, which is how
 * a PHI read or an admin change escapes the checks and the audit trail. This reads app/ as source
 * (the TypeScript compiler's syntax tree, nothing is run) and fails on anything else. Public
 * entries are listed below by hand, so adding one is a visible decision in review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = path.join(root, 'app');

/** The entry points that come before a viewer exists, as `file export`. */
const expectedPublicEntries = [
  'app/(auth)/login/actions.ts signInAction',
  'app/(auth)/login/actions.ts ssoCodeAction',
  'app/(auth)/login/actions.ts ssoSignInAction',
  'app/actions/sign-out.ts signOutAction',
  'app/api/auth/[...nextauth]/route.ts GET',
  'app/api/auth/[...nextauth]/route.ts POST',
  'app/api/health/route.ts GET',
  'app/api/phi/key/route.ts GET',
  'app/api/phi/vitals/route.ts POST',
  'app/api/session/keep-alive/route.ts POST',
  'app/api/session/timeout/route.ts GET',
  'app/api/test/clock/route.ts GET',
  'app/api/test/clock/route.ts POST',
  'app/fhir/R4/.well-known/smart-configuration/route.ts GET',
  'app/fhir/R4/.well-known/smart-configuration/route.ts OPTIONS',
  'app/fhir/R4/[...path]/route.ts GET',
  'app/fhir/R4/[...path]/route.ts OPTIONS',
  'app/fhir/R4/metadata/route.ts GET',
  'app/fhir/R4/metadata/route.ts OPTIONS',
  'app/oauth/[...path]/route.ts GET',
  'app/oauth/[...path]/route.ts OPTIONS',
  'app/oauth/[...path]/route.ts POST',
  // The patient of a video visit has no account: the one-time join link, then the visit secret it gave the browser, is their credential.
  'app/visit/api/consent/route.ts POST',
  'app/visit/api/join/route.ts POST',
  'app/visit/api/signal/route.ts GET',
  'app/visit/api/signal/route.ts POST',
];

const entryWrappers = new Set(['guardedAction', 'guardedRoute', 'publicEntry']);
/** Next.js route segment settings a route file may export beside its handlers. */
const routeSettings = new Set(['dynamic', 'runtime', 'revalidate']);

type Kind = 'action' | 'route';

interface Checked {
  problems: string[];
  publicEntries: string[];
}

const parse = (file: string, source: string) => ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);

const isExported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/** A file whose first statements include the 'use server' directive: every export is an action. */
function hasUseServerDirective(sourceFile: ts.SourceFile): boolean {
  for (const statement of sourceFile.statements) {
    if (!ts.isExpressionStatement(statement) || !ts.isStringLiteral(statement.expression)) return false;
    if (statement.expression.text === 'use server') return true;
  }
  return false;
}

/** A string written in this file: a literal, or a top-level const holding one. */
function localString(sourceFile: ts.SourceFile, node: ts.Expression | undefined): string | null {
  if (!node) return null;
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (!ts.isIdentifier(node)) return null;
  for (const statement of sourceFile.statements) {
    if (!ts.isVariableStatement(statement) || !(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.name.text === node.text) return localString(sourceFile, declaration.initializer);
    }
  }
  return null;
}

/** Reads one action or route file and says what in it is not a declared entry point. */
function checkEntryFile(file: string, source: string, kind: Kind): Checked {
  const sourceFile = parse(file, source);
  const problems: string[] = [];
  const publicEntries: string[] = [];
  const problem = (node: ts.Node, what: string) => {
    const { line } = sourceFile.getLineAndCharacterOfPosition(node.getStart());
    problems.push(`${file}:${line + 1} ${what}`);
  };

  for (const statement of sourceFile.statements) {
    if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) continue;
    if (ts.isExportDeclaration(statement)) {
      if (!statement.isTypeOnly) problem(statement, 're-exports a value (`export { … }` or `export * from`)');
      continue;
    }
    if (ts.isExportAssignment(statement)) {
      problem(statement, 'has a default export');
      continue;
    }
    if (!isExported(statement)) continue;
    if (!ts.isVariableStatement(statement)) {
      problem(statement, `exports a ${ts.SyntaxKind[statement.kind]} (write \`export const x = guardedAction(…)\`)`);
      continue;
    }
    if (!(statement.declarationList.flags & ts.NodeFlags.Const)) problem(statement, 'exports a variable that is not const');
    for (const declaration of statement.declarationList.declarations) {
      if (!ts.isIdentifier(declaration.name)) {
        problem(declaration, 'exports by destructuring');
        continue;
      }
      const name = declaration.name.text;
      const init = declaration.initializer;
      if (kind === 'route' && routeSettings.has(name)) continue;
      const wrapper = init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) ? init.expression.text : null;
      if (!wrapper || !entryWrappers.has(wrapper)) {
        problem(declaration, `exports ${name}, which is not guardedAction(…), guardedRoute(…) or publicEntry(…)`);
        continue;
      }
      if (wrapper === 'publicEntry') {
        const why = localString(sourceFile, (init as ts.CallExpression).arguments[1]);
        if (!why?.trim()) problem(declaration, `publicEntry ${name} does not say, in this file, why it is public`);
        publicEntries.push(`${file} ${name}`);
      }
    }
  }
  return { problems, publicEntries };
}

/** Server actions declared inside a function ('use server' in its body) would bypass the wrappers. */
function inlineServerActions(file: string, source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isBlock(node) && node.parent && ts.isFunctionLike(node.parent)) {
      const first = node.statements[0];
      if (first && ts.isExpressionStatement(first) && ts.isStringLiteral(first.expression) && first.expression.text === 'use server') {
        found.push(`${file} declares a server action inside a function`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(file, source));
  return found;
}

const forbiddenInViews = [/^@\/db(\/|$)/, /^@\/lib\/platform\/audit(\/|$)/];

/** Pages and layouts read through features (lib/features), never the database or the trail directly. */
function viewProblems(file: string, source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    const specifier =
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
        ? node.moduleSpecifier.text
        : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])
          ? node.arguments[0].text
          : null;
    if (specifier && forbiddenInViews.some((pattern) => pattern.test(specifier))) found.push(`${file} imports ${specifier}`);
    if (ts.isCallExpression(node)) {
      const callee = ts.isPropertyAccessExpression(node.expression) ? node.expression.name : node.expression;
      if (ts.isIdentifier(callee) && callee.text === 'recordAudit') found.push(`${file} calls recordAudit`);
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(file, source));
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

const appFiles = sourceFiles(appDir).map((full) => ({ file: path.relative(root, full).split(path.sep).join('/'), source: readFileSync(full, 'utf8') }));
const entryFiles = appFiles.flatMap(({ file, source }) => {
  const kind: Kind | null = /(^|\/)route\.ts$/.test(file) ? 'route' : hasUseServerDirective(parse(file, source)) ? 'action' : null;
  return kind ? [{ file, source, kind }] : [];
});

describe('entry points in app/', () => {
  const checked = entryFiles.map(({ file, source, kind }) => checkEntryFile(file, source, kind));

  it('finds the action and route files', () => {
    expect(entryFiles.some((f) => f.kind === 'route')).toBe(true);
    expect(entryFiles.some((f) => f.kind === 'action')).toBe(true);
  });

  it('declares every server action and route handler with guardedAction, guardedRoute or publicEntry', () => {
    const problems = checked.flatMap((c) => c.problems);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('declares no server action inside a function', () => {
    expect(appFiles.flatMap(({ file, source }) => inlineServerActions(file, source))).toEqual([]);
  });

  it('has exactly the public entries this list names', () => {
    const publicEntries = checked.flatMap((c) => c.publicEntries).sort();
    console.info(`Public entry points:\n  ${publicEntries.join('\n  ')}`);
    expect(publicEntries).toEqual([...expectedPublicEntries].sort());
  });

  it('keeps pages and layouts off the database and the audit trail', () => {
    const views = appFiles.filter(({ file }) => /(^|\/)(page|layout)\.tsx?$/.test(file));
    expect(views.length).toBeGreaterThan(0);
    expect(views.flatMap(({ file, source }) => viewProblems(file, source))).toEqual([]);
  });
});

describe('the entry-point check itself', () => {
  it('refuses an action written as an exported function, and a route handler written as one', () => {
    const action = "'use server';\nexport async function deletePatient(id: string) { return id; }\n";
    expect(hasUseServerDirective(parse('a.ts', action))).toBe(true);
    expect(checkEntryFile('app/x/actions.ts', action, 'action').problems).toEqual([
      'app/x/actions.ts:2 exports a FunctionDeclaration (write `export const x = guardedAction(…)`)',
    ]);
    const route = "export const dynamic = 'force-dynamic';\nexport function GET() { return new Response('PHI'); }\n";
    expect(checkEntryFile('app/x/route.ts', route, 'route').problems).toHaveLength(1);
  });

  it('refuses other export forms, settings outside route files, and a public entry without a reason', () => {
    const cases: Array<[string, Kind]> = [
      ["'use server';\nexport const run = async () => 1;", 'action'],
      ["'use server';\nexport const dynamic = 'force-dynamic';", 'action'],
      ["'use server';\nconst run = async () => 1;\nexport { run };", 'action'],
      ["'use server';\nexport default async function run() {}", 'action'],
      ["'use server';\nexport let run = guardedAction(op, () => ({}), (r) => r);", 'action'],
      ['export const { GET, POST } = handlers;', 'route'],
      ["export const GET = publicEntry('x', '  ', async () => new Response());", 'route'],
      ["import { why } from './why';\nexport const GET = publicEntry('x', why, async () => new Response());", 'route'],
    ];
    for (const [source, kind] of cases) expect(checkEntryFile('app/x/file.ts', source, kind).problems, source).not.toEqual([]);
  });

  it('accepts the three declarations, type exports and route settings, and lists public entries', () => {
    const action = "'use server';\nexport interface State { ok: boolean }\nexport type { Other } from './other';\nexport const save = guardedAction(op, (v) => v, (r) => r);";
    expect(checkEntryFile('app/x/actions.ts', action, 'action')).toEqual({ problems: [], publicEntries: [] });
    const route = "const why = 'Probes need it.';\nexport const runtime = 'nodejs';\nexport const GET = publicEntry('health', why, async () => new Response());\nexport const POST = guardedRoute(op, (r) => r, (r) => r, () => new Response());";
    expect(checkEntryFile('app/x/route.ts', route, 'route')).toEqual({ problems: [], publicEntries: ['app/x/route.ts GET'] });
  });

  it('finds inline server actions and views that reach past the features', () => {
    expect(inlineServerActions('app/p/page.tsx', "export default function P() { async function act() { 'use server'; } return null; }")).toHaveLength(1);
    const page = "import { getDb } from '@/db/client';\nimport { recordAudit } from '@/lib/platform/audit';\nexport default async function P() { await recordAudit(tx, e); }";
    expect(viewProblems('app/p/page.tsx', page)).toEqual([
      'app/p/page.tsx imports @/db/client',
      'app/p/page.tsx imports @/lib/platform/audit',
      'app/p/page.tsx calls recordAudit',
    ]);
  });
});
