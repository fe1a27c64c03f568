// POST /v1/auth/link: the web console exchanges the token of a one-time link (`lake console-link`,
// `<base>/#link=<token>`) for a new API key of the link's user. No Authorization header: the token
// is the credential, good once and for 10 minutes (query/console-links.ts). An unknown, used or
// expired token gets the same 401. The route is public in the /v1 scope, so the rate limit counts
// it per client address, as the other requests without a key.
import { Type } from 'typebox';
import { exchangeConsoleLink } from '../../query/console-links.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

const LinkRequest = Type.Object(
  { token: Type.String({ maxLength: 200, description: 'the token after #link= in the link' }) },
  { additionalProperties: false },
);

const LinkKey = Type.Object({
  key: Type.String({ description: 'a new API key of the user (`lake_…`), named `console <ISO time>`: send it as Authorization: Bearer <key>' }),
  user: Type.String({ description: 'whose key it is' }),
  keyId: Type.String({ description: 'the key id, to revoke it (lake keys revoke)' }),
});

export function authLinkRoutes(app: ApiApp, context: ApiContext): void {
  app.post(
    '/auth/link',
    {
      config: { public: true },
      schema: {
        summary: 'exchange a one-time console link (lake console-link) for a new API key of its user',
        description: 'No Authorization header. A token works once, within 10 minutes of the link being made; an unknown, used or expired token is 401.',
        tags: ['users'],
        security: [],
        body: LinkRequest,
        response: { 200: LinkKey, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) => {
      const made = await exchangeConsoleLink(context.lake.db, request.body.token);
      // The exchange is recorded in the access log as the new key's first request.
      request.principal = { userId: made.userId, userName: made.userName, keyId: made.keyId };
      return { key: made.key, user: made.userName, keyId: made.keyId };
    },
  );
}
