import type XOAuth2Class from 'nodemailer/lib/xoauth2';
import { requireCommonJs } from '../../base/commonjs.js';
import { oauth2ClientOptions, type OAuth2Auth } from '../../config/oauth2-client.js';

export type { OAuth2Auth };

/** nodemailer's CommonJS build (src/base/commonjs.ts says why). */
const XOAuth2 = requireCommonJs<typeof XOAuth2Class>('nodemailer/lib/xoauth2');

/**
 * XOAUTH2 access tokens for an IMAP login, from the refresh token: the same token client
 * (nodemailer's) the outgoing accounts use, so both sides speak to a token endpoint alike.
 * A token is reused until it expires; `renew` asks for a new one (after a refused login).
 */
export class AccessTokenSource {
  private readonly client: XOAuth2Class;

  constructor(auth: OAuth2Auth) {
    this.client = new XOAuth2(
      { ...oauth2ClientOptions(auth), requestTimeout: 30_000 },
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
