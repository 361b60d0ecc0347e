import { readFileSync } from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { ConfigError, type AppConfig } from './config';

export type TemporalConnectionConfig = Pick<
  AppConfig,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CA_FILE'
  | 'TEMPORAL_TLS_CERT_FILE'
  | 'TEMPORAL_TLS_KEY_FILE'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** What the client's Connection and the worker's NativeConnection both take to reach the cluster. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration:\n  ${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

/**
 * Address, TLS and API key from the configuration, the same for every process (API, worker,
 * scripts), so that a cluster reached by one is reached by all. The PEM files are read here, at
 * start, and a file that cannot be read stops the process naming its variable.
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const address = config.TEMPORAL_ADDRESS;
  const tlsMaterial = Boolean(
    config.TEMPORAL_TLS_CA_FILE || config.TEMPORAL_TLS_CERT_FILE || config.TEMPORAL_TLS_SERVER_NAME || config.TEMPORAL_API_KEY,
  );
  const useTls = config.TEMPORAL_TLS ?? tlsMaterial;
  if (!useTls) return { address };
  const tls: TLSConfig = {};
  if (config.TEMPORAL_TLS_CA_FILE) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_CA_FILE', config.TEMPORAL_TLS_CA_FILE);
  if (config.TEMPORAL_TLS_CERT_FILE && config.TEMPORAL_TLS_KEY_FILE) {
    tls.clientCertPair = {
      crt: readPem('TEMPORAL_TLS_CERT_FILE', config.TEMPORAL_TLS_CERT_FILE),
      key: readPem('TEMPORAL_TLS_KEY_FILE', config.TEMPORAL_TLS_KEY_FILE),
    };
  }
  if (config.TEMPORAL_TLS_SERVER_NAME) tls.serverNameOverride = config.TEMPORAL_TLS_SERVER_NAME;
  return { address, tls, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}

export async function connectTemporalClient(config: TemporalConnectionConfig & Pick<AppConfig, 'TEMPORAL_NAMESPACE'>): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}
