// Ingest stage: which Azure cloud to talk to (query, ARM and sign-in endpoints) and which
// @azure/identity credential signs the requests (--cloud, --auth). No secret passes through here:
// credentials read their own configuration (az login, managed identity, AZURE_* variables).

import type { TokenCredential } from '@azure/core-auth';
import { createRequire } from 'node:module';

// @azure/identity is loaded when a credential is built, not by every run that reads files.
const require = createRequire(import.meta.url);
const identity = (): typeof import('@azure/identity') => require('@azure/identity') as typeof import('@azure/identity');

/** Clouds by the names `az cloud list` uses. */
export const cloudNames = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const;
export type CloudName = (typeof cloudNames)[number];

/** How to sign in: DefaultAzureCredential's chain, or one credential of it. */
export const authModes = ['default', 'cli', 'device-code', 'managed-identity', 'env'] as const;
export type AuthMode = (typeof authModes)[number];

/** Endpoints and token scopes of one cloud. */
export interface CloudEndpoints {
  /** Log Analytics query API base URL, `/v1` included (LogsQueryClient uses it verbatim). */
  logAnalytics: string;
  /**
   * Token scope for Log Analytics. LogsQueryClient ignores its `audience` option (stack.md §3),
   * so this goes in `credentials.scopes`.
   */
  logAnalyticsScope: string;
  /** Azure Resource Manager base URL. */
  arm: string;
  armScope: string;
  /** Entra ID authority for credentials that sign in themselves. */
  authorityHost: string;
}

/** Endpoints per cloud (public, US Government, China). */
export const clouds: Record<CloudName, CloudEndpoints> = {
  AzureCloud: {
    logAnalytics: 'https://api.loganalytics.io/v1', logAnalyticsScope: 'https://api.loganalytics.io/.default',
    arm: 'https://management.azure.com', armScope: 'https://management.azure.com/.default',
    authorityHost: 'https://login.microsoftonline.com',
  },
  AzureUSGovernment: {
    logAnalytics: 'https://api.loganalytics.us/v1', logAnalyticsScope: 'https://api.loganalytics.us/.default',
    arm: 'https://management.usgovcloudapi.net', armScope: 'https://management.usgovcloudapi.net/.default',
    authorityHost: 'https://login.microsoftonline.us',
  },
  AzureChinaCloud: {
    logAnalytics: 'https://api.loganalytics.azure.cn/v1', logAnalyticsScope: 'https://api.loganalytics.azure.cn/.default',
    arm: 'https://management.chinacloudapi.cn', armScope: 'https://management.chinacloudapi.cn/.default',
    authorityHost: 'https://login.chinacloudapi.cn',
  },
};

/** Callbacks of createCredential(). */
export interface CredentialOptions {
  /** Where the device-code sign-in prompt goes (stderr); it holds a one-time code, not a secret. */
  onDeviceCode?: (message: string) => void;
}

/**
 * Builds the credential for `--auth`. Construction never signs in; the first token request does,
 * so an unusable mode fails on the first query with the credential's own explanation.
 */
export function createCredential(mode: AuthMode, cloud: CloudName, options: CredentialOptions = {}): TokenCredential {
  const authorityHost = clouds[cloud].authorityHost;
  const { AzureCliCredential, DefaultAzureCredential, DeviceCodeCredential, EnvironmentCredential, ManagedIdentityCredential } = identity();
  switch (mode) {
    case 'cli':
      return new AzureCliCredential();
    case 'device-code':
      return new DeviceCodeCredential({
        authorityHost,
        userPromptCallback: (info) => options.onDeviceCode?.(info.message),
      });
    case 'managed-identity': {
      // A user-assigned identity is chosen the way every Azure SDK does it: AZURE_CLIENT_ID (an id, not a secret).
      const clientId = process.env.AZURE_CLIENT_ID;
      return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
    }
    case 'env':
      return new EnvironmentCredential({ authorityHost });
    case 'default':
      return new DefaultAzureCredential({ authorityHost });
  }
}
