import XOAuth2 from 'nodemailer/lib/xoauth2';
import type { SmtpAuth } from '../../config/types.js';

export type OAuth2Auth = Extract<SmtpAuth, { type: 'oauth2' }>;

/**
 * XOAUTH2 access tokens for an IMAP login, from the refresh token: the same token client
 * (nodemailer's) the outgoing accounts use, so both sides speak to a token endpoint alike.
 * A token is reused until it expires; `renew` asks for a new one (after a refused login).
 */
export class AccessTokenSource {
  private readonly client: XOAuth2;

  constructor(auth: OAuth2Auth) {
    this.client = new XOAuth2(
      {
        user: auth.user,
        clientId: auth.clientId,
        clientSecret: auth.clientSecret?.reveal(),
        refreshToken: auth.refreshToken.reveal(),
        accessUrl: auth.tokenUrl,
        ...(auth.scope ? { customParams: { scope: auth.scope } } : {}),
        requestTimeout: 30_000,
      },
      false,
    );
  }

  get(renew: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      this.client.getToken(renew, (error, token) => {
        if (error) reject(new Error(`the OAuth2 token endpoint gave no access token: ${error.message}`));
        else resolve(token);
      });
    });
  }
}
