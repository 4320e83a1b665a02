import { readFileSync } from 'node:fs';

/** Fence languages whose text is a shell command to run. */
export const SHELL_LANGS = ['bash', 'sh', 'shell', 'console'] as const;

/**
 * What an HTML comment right before a fence says about it:
 * `<!-- doc-test: key=value key="a value" flag … [skip — reason | — a note] -->`.
 */
export interface Annotation {
  /** Set by `skip — reason`: the block is reported as skipped with this reason. */
  skip?: string;
  /** Fixtures to set up before the block (`needs=role,sshd`). */
  needs: string[];
  /** Every other key, as written (`expect-exit=3`, `check=sshd_config`, `daemon`). */
  keys: Record<string, string>;
}

/** One fenced block of a Markdown file. */
export interface DocBlock {
  /** Path relative to the repository root, e.g. `docs/openssh.md`. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`bash`, `ini`, `` for none). */
  lang: string;
  text: string;
  annotation?: Annotation;
}

/** Every fenced block of a Markdown file, in document order, with its doc-test annotation. */
export function extractBlocks(file: string, markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] as string;
      if (l.trim().startsWith(fence[0] as string) && l.trim().length >= fence.length && /^[`~]+$/.test(l.trim())) break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    if (j >= lines.length) throw new Error(`${file}:${i + 1}: the fence opened here is never closed`);
    let k = i - 1;
    while (k >= 0 && (lines[k] as string).trim() === '') k--;
    const comment = k >= 0 ? /^\s*<!--\s*doc-test:(.*)-->\s*$/.exec(lines[k] as string) : null;
    blocks.push({ file, line: i + 1, lang: lang.toLowerCase(), text: body.join('\n') + '\n', ...(comment ? { annotation: parseAnnotation(comment[1] as string, `${file}:${k + 1}`) } : {}) });
    i = j;
  }
  return blocks;
}

/** Reads a Markdown file and extracts its blocks. */
export function readBlocks(root: string, file: string): DocBlock[] {
  return extractBlocks(file, readFileSync(`${root}/${file}`, 'utf8'));
}

/** Parses the text after `doc-test:`; `where` names the comment in errors. */
export function parseAnnotation(text: string, where: string): Annotation {
  const out: Annotation = { needs: [], keys: {} };
  let rest = text.trim();
  while (rest.length > 0) {
    const skip = /^skip\s+(?:—|--?)\s+(.+)$/s.exec(rest);
    if (skip) {
      out.skip = (skip[1] as string).trim();
      break;
    }
    if (rest.startsWith('—')) break; // a note for the reader
    const m = /^([a-z][\w-]*)(?:=(?:"([^"]*)"|(\S+)))?(?:\s+|$)/.exec(rest);
    if (!m) throw new Error(`${where}: cannot read the doc-test annotation at "${rest}"; write key=value, key="value", a flag, or skip — reason`);
    const [all, key = '', quoted, plain] = m;
    const value = quoted ?? plain ?? 'true';
    if (key === 'needs') out.needs.push(...value.split(',').filter(Boolean));
    else if (key === 'skip') throw new Error(`${where}: skip needs a reason: skip — why this block cannot run here`);
    else out.keys[key] = value;
    rest = rest.slice(all.length).trimStart();
  }
  return out;
}

/** A command script and the output lines the block says it prints. */
export interface Script {
  script: string;
  /** From `# Output: …` lines, or a console block's non-command lines; `…` matches anything. */
  expected: string[];
}

/**
 * Turns a shell block into a script: bash/sh/shell blocks run as written, with each
 * `# Output: text` comment an expected line of stdout; a console block's `$ ` lines
 * (and their `\` continuations) are the commands and its other lines the output.
 */
export function toScript(block: DocBlock): Script {
  const expected: string[] = [];
  if (block.lang !== 'console') {
    const script: string[] = [];
    for (const l of block.text.split('\n')) {
      const m = /^\s*#\s*Output:\s?(.*)$/.exec(l);
      if (m) expected.push(m[1] as string);
      else script.push(l);
    }
    return { script: script.join('\n'), expected };
  }
  const commands: string[] = [];
  let continued = false;
  for (const l of block.text.split('\n')) {
    if (continued || l.startsWith('$ ')) {
      commands.push(continued ? l : l.slice(2));
      continued = l.endsWith('\\');
    } else if (l.trim() !== '') expected.push(l);
  }
  return { script: commands.join('\n') + '\n', expected };
}

/**
 * Checks that stdout has a line matching each expected line, in order (`…` matches
 * any text, the rest literally); returns the first expected line not found.
 */
export function missingOutput(stdout: string, expected: string[]): string | undefined {
  const lines = stdout.split('\n');
  let at = 0;
  for (const want of expected) {
    const re = new RegExp('^' + want.trim().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    const found = lines.findIndex((l, i) => i >= at && re.test(l.trim()));
    if (found < 0) return want;
    at = found + 1;
  }
  return undefined;
}

/** The first line of a block's script, shortened, to name its test. */
export function summary(text: string): string {
  const first = text.split('\n').find((l) => l.trim() !== '' && !/^\s*#/.test(l)) ?? '';
  const s = first.trim().replace(/^\$ /, '').replace(/\s*\\$/, ' …');
  return s.length > 70 ? `${s.slice(0, 69)}…` : s;
}
