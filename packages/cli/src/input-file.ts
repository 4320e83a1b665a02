import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { invalidArgument } from '@mezite/identity';

const WHY: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };

/**
 * Reads a file a flag names, failing with one line that names the flag and the file
 * (`cannot read --public-key host.pub: no such file`) instead of an errno dump.
 */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw invalidArgument(`cannot read ${what} ${path}: ${WHY[code] ?? (code || 'unreadable')}`, { cause: err });
  }
}

/** A document given by `-f`: its text and the name errors call it by. */
export interface InputDocument {
  text: string;
  /** The base name (`role.yaml`), or `stdin` for `-f -`: what `file:line:` errors show. */
  name: string;
}

/**
 * Reads `-f FILE`, or standard input for `-f -`. The document is named by its base
 * name, the same name the server's errors use, so a mistake reads the same whether the
 * CLI or the server caught it.
 */
export async function readInputDocument(path: string, readStdin: () => Promise<string>): Promise<InputDocument> {
  if (path === '-') return { text: await readStdin(), name: 'stdin' };
  return { text: await readTextFile(path, '-f'), name: basename(path) };
}

/** Reads all of a stream as UTF-8 (process.stdin by default). */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
