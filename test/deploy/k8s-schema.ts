import { join } from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './kustomize';
import { ref } from './kustomize';

/**
 * Validation of rendered objects against the Kubernetes API schema, with two tools from
 * the same generated models (`kubernetes-models` 4.x: Kubernetes 1.33's OpenAPI;
 * `@kubernetes-models/cert-manager` for cert-manager's CRDs):
 *
 * - `schemaErrors`: the models' JSON-schema validators (ajv): types, required fields,
 *   enums, formats. They accept unknown fields, as the API server's non-strict mode does.
 * - `unknownFieldErrors`: the models' TypeScript types, with the compiler's excess
 *   property check, which refuses any field the schema does not have (`readinesProbe`),
 *   as `kubectl apply --validate=strict` does.
 *
 * The 4.x line is the last for Node 20 (5.x needs Node 22).
 */
export const TARGET_KUBERNETES = '1.33';

/** Kinds with no model here (CRDs of other operators), checked only by the tests that use them. */
export const KINDS_WITHOUT_SCHEMA = new Set(['postgresql.cnpg.io/v1 Cluster', 'postgresql.cnpg.io/v1 ScheduledBackup']);

/** The module of the model of `o`, or undefined for kinds in KINDS_WITHOUT_SCHEMA. */
function modelModule(o: K8sObject): string | undefined {
  if (KINDS_WITHOUT_SCHEMA.has(`${o.apiVersion} ${o.kind}`)) return undefined;
  if (!/^[a-z0-9.-]*\/?v\d+(?:(?:alpha|beta)\d+)?$/.test(o.apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(o.kind)) throw new Error(`${ref(o)}: odd apiVersion/kind ${o.apiVersion} ${o.kind}`);
  if (o.apiVersion.startsWith('cert-manager.io/')) return `@kubernetes-models/cert-manager/${o.apiVersion}/${o.kind}`;
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

function loadModel(module: string, kind: string): ModelClass {
  let exports: Record<string, unknown>;
  try {
    exports = require(module) as Record<string, unknown>;
  } catch {
    throw new Error(`no Kubernetes ${TARGET_KUBERNETES} model ${module}: not a kind of the target version`);
  }
  const cls = exports[kind];
  if (typeof cls !== 'function') throw new Error(`${module} exports no ${kind}`);
  return cls as ModelClass;
}

/**
 * kustomize folds long base64 values of Secret `data` over several lines; the API server's
 * decoder (Go's encoding/base64) skips the newlines, the schema's `byte` format does not.
 */
function asApiServerReadsIt(o: K8sObject): K8sObject {
  if (o.kind !== 'Secret' || !o.data) return o;
  const data = Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')]));
  return { ...o, data };
}

/** JSON-schema problems of each object, as `Kind/name: /path message` lines. */
export function schemaErrors(objects: K8sObject[]): string[] {
  const out: string[] = [];
  for (const o of objects) {
    const module = modelModule(o);
    if (!module) continue;
    try {
      new (loadModel(module, o.kind))(asApiServerReadsIt(o)).validate();
    } catch (err) {
      const errors = (err as { errors?: Array<{ instancePath?: string; message?: string }> }).errors;
      if (errors?.length) for (const e of errors) out.push(`${ref(o)}: ${e.instancePath || '/'} ${e.message ?? ''}`.trim());
      else out.push(`${ref(o)}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Fields the schema does not know, by type-checking each object as a literal of its model's interface. */
export function unknownFieldErrors(objects: K8sObject[]): string[] {
  const file = join(__dirname, '__rendered_manifests__.ts');
  const checked = objects.flatMap((o) => {
    const module = modelModule(o);
    return module ? [{ o, module }] : [];
  });
  const lines: string[] = [];
  const lineOf: K8sObject[] = [];
  checked.forEach(({ o, module }, i) => {
    lines.push(`import type { I${o.kind} as T${i} } from ${JSON.stringify(module)};`);
  });
  const firstObjectLine = lines.length;
  checked.forEach(({ o }, i) => {
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o)};`);
    lineOf.push(o);
  });
  const source = lines.join('\n') + '\n';
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return text;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const o = lineOf[line - firstObjectLine];
    return o ? `${ref(o)}: ${text}` : text;
  });
}
