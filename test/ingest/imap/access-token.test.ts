import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret } from '../../../src/config/secret.js';
import { AccessTokenSource } from '../../../src/ingest/imap/access-token.js';
import { startTokenEndpoint, type TokenEndpoint } from '../../helpers/token-endpoint.js';

describe('AccessTokenSource (XOAUTH2 for the reply mailbox)', () => {
  const expected = { clientId: 'annunciator-app', clientSecret: 'client-secret', refreshToken: 'refresh-1' };
  let endpoint: TokenEndpoint;
  before(async () => {
    endpoint = await startTokenEndpoint(expected);
  });
  after(async () => {
    await endpoint?.close();
  });

  const source = (refreshToken = expected.refreshToken) =>
    new AccessTokenSource({
      type: 'oauth2',
      user: 'alarms@plant.example.com',
      clientId: expected.clientId,
      clientSecret: new Secret(expected.clientSecret),
      refreshToken: new Secret(refreshToken),
      tokenUrl: endpoint.url,
      scope: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access',
    });

  it('trades the refresh token for an access token, reuses it, and renews it when asked', async () => {
    const tokens = source();
    const first = await tokens.get(false);
    assert.equal(first, endpoint.currentToken());
    assert.equal(await tokens.get(false), first, 'reused until it expires');
    assert.equal(endpoint.requests.length, 1);
    const request = endpoint.requests[0]!;
    assert.equal(request.get('grant_type'), 'refresh_token');
    assert.equal(request.get('scope'), 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access');
    const renewed = await tokens.get(true);
    assert.notEqual(renewed, first, 'a refused login asks for a new one');
    assert.equal(endpoint.requests.length, 2);
  });

  it('fails with the endpoint\'s answer, not the secrets', async () => {
    await assert.rejects(source('revoked').get(false), (error: Error) => {
      assert.match(error.message, /the OAuth2 token endpoint gave no access token/);
      assert.doesNotMatch(error.message, /revoked|client-secret/);
      return true;
    });
  });
});
