/**
 * Well-known providers, so a plant engineer writes `preset: gmail` instead of looking up
 * hosts, ports and token endpoints. Explicit keys in the account override a preset.
 */
export interface ProviderPreset {
  host: string;
  port: number;
  security: 'tls' | 'starttls';
  tokenUrl: (tenant: string | undefined) => string;
  scope?: string;
}

export const PRESETS: Record<'gmail' | 'microsoft365', ProviderPreset> = {
  gmail: {
    host: 'smtp.gmail.com',
    port: 465,
    security: 'tls',
    tokenUrl: () => 'https://oauth2.googleapis.com/token',
  },
  microsoft365: {
    host: 'smtp.office365.com',
    port: 587,
    security: 'starttls',
    tokenUrl: (tenant) => `https://login.microsoftonline.com/${encodeURIComponent(tenant ?? 'common')}/oauth2/v2.0/token`,
    scope: 'https://outlook.office.com/SMTP.Send offline_access',
  },
};
