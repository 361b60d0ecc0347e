import { inflateRawSync } from 'node:zlib';
import { sha256Hex } from '../history';
import { MANIFEST, PACKAGE_FORMAT, type Manifest } from './package';

/**
 * Offline verification of an evidence package: needs nothing but the zip. Reads the archive's
 * central directory itself (no network, no database, no extra dependency), then checks that every
 * file the manifest lists is present with the same SHA-256, that nothing unlisted was slipped in,
 * and that each history file is a well-formed history whose event IDs run 1, 2, 3, … without gaps.
 */
export interface PackageVerification {
  ok: boolean;
  deviationId?: string;
  files: number;
  problems: string[];
}

/** Entries of a zip file: name → bytes (stored or deflated entries; no zip64, no encryption). */
export function readZip(zip: Buffer): Map<string, Buffer> {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`corrupt zip entry ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : undefined;
    if (!data) throw new Error(`zip entry ${name} uses unsupported compression method ${method}`);
    if (data.length !== size) throw new Error(`zip entry ${name} has ${data.length} bytes, its header says ${size}`);
    if (!name.endsWith('/')) entries.set(name, data);
  }
  return entries;
}

export function verifyEvidencePackage(zip: Buffer): PackageVerification {
  const problems: string[] = [];
  let entries: Map<string, Buffer>;
  try {
    entries = readZip(zip);
  } catch (err) {
    return { ok: false, files: 0, problems: [String(err instanceof Error ? err.message : err)] };
  }
  const manifestName = [...entries.keys()].find((n) => n === MANIFEST || n.endsWith(`/${MANIFEST}`));
  if (!manifestName) return { ok: false, files: entries.size, problems: ['manifest.json is missing'] };
  const prefix = manifestName.slice(0, -MANIFEST.length);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(entries.get(manifestName)!.toString('utf8')) as Manifest;
  } catch {
    return { ok: false, files: entries.size, problems: ['manifest.json is not valid JSON'] };
  }
  if (manifest.format !== PACKAGE_FORMAT) problems.push(`unknown package format ${String(manifest.format)}`);
  const listed = new Set<string>();
  for (const f of manifest.files ?? []) {
    listed.add(prefix + f.path);
    const data = entries.get(prefix + f.path);
    if (!data) problems.push(`${f.path}: listed in the manifest but missing`);
    else if (sha256Hex(data) !== f.sha256) problems.push(`${f.path}: SHA-256 differs from the manifest (the file was changed)`);
  }
  for (const name of entries.keys())
    if (name !== manifestName && !listed.has(name)) problems.push(`${name.slice(prefix.length)}: present but not listed in the manifest`);
  for (const run of manifest.runs ?? []) {
    const data = entries.get(prefix + run.file);
    if (!data) continue;
    try {
      const events = (JSON.parse(data.toString('utf8')) as { events?: Array<{ eventId?: string }> }).events ?? [];
      const gap = events.findIndex((e, i) => Number(e.eventId) !== i + 1);
      if (!events.length) problems.push(`${run.file}: the history has no events`);
      else if (gap >= 0) problems.push(`${run.file}: event IDs are not consecutive at position ${gap + 1}`);
      if (sha256Hex(data) !== run.sha256) problems.push(`${run.file}: SHA-256 differs from the run's recorded hash`);
    } catch {
      problems.push(`${run.file}: not valid JSON`);
    }
  }
  return { ok: problems.length === 0, deviationId: manifest.deviationId, files: entries.size, problems };
}
