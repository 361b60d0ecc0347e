import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Pool } from '../db/pool';

/** What the figures were measured on; benchmark results mean nothing without it. */
export interface MachineDescription {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1];
    if (pretty) return `${pretty}, ${os.type()} ${os.release()} ${os.arch()}`;
  } catch {
    // not Linux: fall through
  }
  return `${os.type()} ${os.release()} ${os.arch()}`;
}

export async function describeMachine(pool: Pool): Promise<MachineDescription> {
  const { rows } = await pool.query<{ version: string }>('SELECT version()');
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    postgres: rows[0]?.version.split(' on ')[0] ?? 'unknown',
  };
}
