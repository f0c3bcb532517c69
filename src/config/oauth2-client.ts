import type { SmtpAuth } from './types.js';

export type OAuth2Auth = Extract<SmtpAuth, { type: 'oauth2' }>;

/**
 * An OAuth2 account as nodemailer's token client (lib/xoauth2) takes it: one shape for
 * the outgoing accounts and the reply mailboxes, so both ask a token endpoint alike.
 */
export function oauth2ClientOptions(auth: OAuth2Auth): {
  user: string;
  clientId: string;
  clientSecret: string | undefined;
  refreshToken: string;
  accessUrl: string;
  customParams?: { scope: string };
} {
  return {
    user: auth.user,
    clientId: auth.clientId,
    clientSecret: auth.clientSecret?.reveal(),
    refreshToken: auth.refreshToken.reveal(),
    accessUrl: auth.tokenUrl,
    ...(auth.scope ? { customParams: { scope: auth.scope } } : {}),
  };
}
