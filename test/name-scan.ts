/**
 * Finds registered names (audit actions, permissions) written out as strings in source text,
 * where the registries' constants belong. Parses with the TypeScript compiler rather than a
 * regular expression, so comments (which may quote a name to explain it) are not code, and a
 * template literal is judged by the names it can produce: `${section}.create` is a section
 * action spelt by hand. A template whose fixed text holds no word (`${a}.${b}`, `${id}_${seq}`)
 * names nothing in particular and is not reported.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface NameHit {
  file: string;
  line: number;
  /** The literal as written, e.g. 'user.disable' or `${section}.create`. */
  text: string;
  /** The registered names it equals or can produce. */
  names: string[];
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every string and template literal of `source` that equals or can produce one of `names`. */
export function scanSource(file: string, source: string, names: readonly string[]): NameHit[] {
  const known = new Set(names);
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const hits: NameHit[] = [];
  const hit = (node: ts.Node, matched: string[]) => {
    if (matched.length === 0) return;
    const line = sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
    hits.push({ file, line, text: node.getText(sourceFile), names: matched });
  };
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      if (known.has(node.text)) hit(node, [node.text]);
    } else if (ts.isTemplateExpression(node) && /[a-z]/.test(node.head.text + node.templateSpans.map((span) => span.literal.text).join(''))) {
      // Each substitution stands for one or more name segments; the fixed parts are escaped.
      // eslint-disable-next-line security/detect-non-literal-regexp
      const shape = new RegExp(`^${escape(node.head.text)}${node.templateSpans.map((span) => `[a-z0-9_.]+${escape(span.literal.text)}`).join('')}$`);
      hit(node, names.filter((name) => shape.test(name)));
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return hits;
}

/** The product's source files under `roots` (relative to `root`): *.ts and *.tsx, tests excluded. */
export function productSources(root: string, roots: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'migrations') walk(relative);
      } else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        files.push(relative.split(path.sep).join('/'));
      }
    }
  };
  for (const dir of roots) walk(dir);
  return files.sort();
}

/** Scans the product's files, except `exempt` (the registries, where the names are written down). */
export function scanProduct(root: string, roots: readonly string[], names: readonly string[], exempt: readonly string[]): NameHit[] {
  return productSources(root, roots)
    .filter((file) => !exempt.includes(file))
    .flatMap((file) => scanSource(file, readFileSync(path.join(root, file), 'utf8'), names));
}
