import { isIP } from 'node:net';
import { invalidArgument, isMeziteError, isUuid } from '@mezite/identity';
import { type CertOptions, MAX_PRINCIPALS, parsePublicKey, type SshPublicKey } from '@mezite/ssh';
import type { CaType } from './cert-authority';

/** Shortest certificate lifetime: below a minute, clock skew eats it. */
export const MIN_CERT_TTL_SECONDS = 60;
/** Longest certificate lifetime: short-lived credentials are the point of Mezite. */
export const MAX_CERT_TTL_SECONDS = 30 * 24 * 3600;
/** Longest requested key id and principal (characters). */
export const MAX_KEY_ID_LENGTH = 256;
export const MAX_PRINCIPAL_LENGTH = 256;
/** Most extensions or critical options in one certificate, and longest value of one. */
export const MAX_CERT_OPTIONS = 32;
export const MAX_CERT_OPTION_VALUE_LENGTH = 8192;

/** The extensions OpenSSH defines for user certificates; all are flags (empty value). */
export const USER_CERT_EXTENSIONS: ReadonlySet<string> = new Set(['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc']);
/**
 * The critical options OpenSSH defines (user certificates only). Vendor names are not
 * accepted here: sshd refuses a certificate with a critical option it does not know,
 * so one would make the certificate useless everywhere but a patched sshd.
 */
export const USER_CERT_CRITICAL_OPTIONS: ReadonlySet<string> = new Set(['force-command', 'source-address', 'verify-required']);
/** A vendor extension name, `name@domain` (RFC 4251 §6), e.g. `mezite@mezite.dev`. */
const VENDOR_NAME = /^[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9.-]{1,128}$/;

/** What to sign, as the caller asks for it (names follow the proto's fields in messages). */
export interface CertificateRequest {
  /** Selects the CA (the active one of this type) and the certificate type. */
  type: CaType;
  /** The subject's key, one `authorized_keys` line. */
  publicKey: string;
  /** Printable ASCII, 1..256; the certificate's key id is `<keyId>/<serial>`. */
  keyId: string;
  /** Logins (user) or host names (host), 1..256, no control characters or commas. */
  principals: readonly string[];
  /** Lifetime from now, 60 s .. 30 days; validity starts a minute early for clock skew. */
  ttlSeconds: number;
  /** User certificates only: the five `permit-*` flags and `name@domain` vendor extensions. */
  extensions?: CertOptions;
  /** User certificates only: `force-command`, `source-address`, `verify-required`. */
  criticalOptions?: CertOptions;
  /** The bot's or node's UUID, for the issued-certificate log. */
  subjectId?: string;
  tenantId?: string;
}

/** A request that passed every check, with the subject key parsed. */
export interface CheckedCertificateRequest {
  type: CaType;
  subjectKey: SshPublicKey;
  keyId: string;
  principals: string[];
  ttlSeconds: number;
  extensions: CertOptions;
  criticalOptions: CertOptions;
  subjectId: string | null;
  tenantId: string | null;
}

/**
 * Checks a request before anything is signed, so a caller gets one clear
 * `InvalidArgument` naming the field rather than a certificate sshd would refuse
 * (too many principals, an unknown critical option, an unparsable source-address).
 * Whether the key is a CA key is checked by the signer, which knows the CAs.
 */
export function checkCertificateRequest(req: CertificateRequest): CheckedCertificateRequest {
  if (req.type !== 'user' && req.type !== 'host') throw invalidArgument('type must be user or host');
  let subjectKey: SshPublicKey;
  try {
    subjectKey = parsePublicKey(req.publicKey);
  } catch (err) {
    if (isMeziteError(err, 'InvalidArgument')) throw invalidArgument(`public_key: ${err.message}`);
    throw err;
  }
  if (typeof req.keyId !== 'string' || !/^[\x20-\x7e]+$/.test(req.keyId) || req.keyId.length > MAX_KEY_ID_LENGTH) {
    throw invalidArgument(`key_id must be 1 to ${MAX_KEY_ID_LENGTH} printable ASCII characters`);
  }
  if (!Number.isSafeInteger(req.ttlSeconds) || req.ttlSeconds < MIN_CERT_TTL_SECONDS || req.ttlSeconds > MAX_CERT_TTL_SECONDS) {
    throw invalidArgument(`ttl_seconds must be a whole number from ${MIN_CERT_TTL_SECONDS} (1 minute) to ${MAX_CERT_TTL_SECONDS} (30 days), got ${req.ttlSeconds}`);
  }
  const extensions = { ...req.extensions };
  const criticalOptions = { ...req.criticalOptions };
  if (req.type === 'host') {
    if (Object.keys(extensions).length > 0) throw invalidArgument('host certificates carry no extensions');
    if (Object.keys(criticalOptions).length > 0) throw invalidArgument('host certificates carry no critical options');
  } else {
    checkOptions(extensions, 'extension', checkExtension);
    checkOptions(criticalOptions, 'critical option', checkCriticalOption);
  }
  return {
    type: req.type,
    subjectKey,
    keyId: req.keyId,
    principals: checkPrincipals(req.principals),
    ttlSeconds: req.ttlSeconds,
    extensions,
    criticalOptions,
    subjectId: optionalUuid(req.subjectId, 'subject_id'),
    tenantId: optionalUuid(req.tenantId, 'tenant_id'),
  };
}

function checkPrincipals(principals: readonly string[]): string[] {
  if (!Array.isArray(principals) || principals.length === 0) throw invalidArgument('principals must name at least one login or host (an empty list would mean anyone)');
  if (principals.length > MAX_PRINCIPALS) throw invalidArgument(`principals: at most ${MAX_PRINCIPALS} (sshd refuses more), got ${principals.length}`);
  const seen = new Set<string>();
  for (const p of principals) {
    if (typeof p !== 'string' || p === '') throw invalidArgument('principals must be non-empty strings');
    if (p.length > MAX_PRINCIPAL_LENGTH) throw invalidArgument(`principal ${JSON.stringify(p.slice(0, 32))}… is longer than ${MAX_PRINCIPAL_LENGTH} characters`);
    if (/[\0-\x1f\x7f]/.test(p)) throw invalidArgument(`principal ${JSON.stringify(p)} contains a control character`);
    if (p.includes(',')) throw invalidArgument(`principal ${JSON.stringify(p)} contains a comma (OpenSSH separates principals with commas)`);
    if (seen.has(p)) throw invalidArgument(`principal ${JSON.stringify(p)} is listed twice`);
    seen.add(p);
  }
  return [...principals];
}

function checkOptions(options: CertOptions, what: string, checkOne: (name: string, value: string) => void): void {
  const names = Object.keys(options);
  if (names.length > MAX_CERT_OPTIONS) throw invalidArgument(`at most ${MAX_CERT_OPTIONS} ${what}s, got ${names.length}`);
  for (const name of names) {
    const value = options[name];
    if (typeof value !== 'string') throw invalidArgument(`${what} ${JSON.stringify(name)} must have a string value`);
    if (value.length > MAX_CERT_OPTION_VALUE_LENGTH) throw invalidArgument(`${what} ${JSON.stringify(name)}: value longer than ${MAX_CERT_OPTION_VALUE_LENGTH} characters`);
    if (/[\0-\x1f\x7f]/.test(value)) throw invalidArgument(`${what} ${JSON.stringify(name)}: value contains a control character`);
    checkOne(name, value);
  }
}

function checkExtension(name: string, value: string): void {
  if (USER_CERT_EXTENSIONS.has(name)) {
    if (value !== '') throw invalidArgument(`extension ${name} is a flag: its value must be empty`);
    return;
  }
  if (!VENDOR_NAME.test(name)) {
    throw invalidArgument(`unknown extension ${JSON.stringify(name.slice(0, 64))}: use one of ${[...USER_CERT_EXTENSIONS].join(', ')} or a vendor name like mezite@mezite.dev`);
  }
}

function checkCriticalOption(name: string, value: string): void {
  if (!USER_CERT_CRITICAL_OPTIONS.has(name)) {
    throw invalidArgument(`unknown critical option ${JSON.stringify(name.slice(0, 64))}: use one of ${[...USER_CERT_CRITICAL_OPTIONS].join(', ')}`);
  }
  if (name === 'verify-required') {
    if (value !== '') throw invalidArgument('critical option verify-required is a flag: its value must be empty');
  } else if (value === '') {
    throw invalidArgument(`critical option ${name} needs a value`);
  }
  if (name === 'source-address') for (const cidr of value.split(',')) if (!isCidr(cidr)) throw invalidArgument(`critical option source-address: ${JSON.stringify(cidr)} is not an address or CIDR block`);
}

/** `10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`: what sshd's source-address accepts (no spaces). */
function isCidr(s: string): boolean {
  const [addr = '', bits, ...rest] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function optionalUuid(v: string | undefined, field: string): string | null {
  if (v === undefined || v === '') return null;
  const id = typeof v === 'string' ? v.toLowerCase() : '';
  if (!isUuid(id)) throw invalidArgument(`${field} must be a UUID`);
  return id;
}
