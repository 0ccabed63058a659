import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { App } from './http.ts';
import { parseBasicAuth } from './http.ts';
import { ErrorBodySchema } from '../protocol/index.ts';
import { ACCESS_TTL_SECONDS, type AccessTokens } from './access-tokens.ts';
import { ForbiddenError } from './errors.ts';
import { GRANTABLE_SCOPES } from './scopes.ts';

/**
 * The access token a request presents, or undefined: `Authorization: Bearer <token>`, or Basic
 * auth with an empty login and the token as the password (what the official TypeScript client
 * sends when it is given the login "" and a token).
 */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = parseBasicAuth(request);
  return basic && basic.username === '' && basic.password !== '' ? basic.password : undefined;
}

const TokenRequest = Type.Object(
  {
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: 32,
      description: `what the token may do: ${GRANTABLE_SCOPES.join(', ')}`,
    }),
    ttl: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10 * 365 * 24 * 3600,
        description: `lifetime in seconds; 0 or absent: ${ACCESS_TTL_SECONDS.default}; at most ${ACCESS_TTL_SECONDS.max} (a larger one is cut to it)`,
      }),
    ),
  },
  { additionalProperties: false },
);

const TokenResponse = Type.Object({
  id: Type.String({ description: 'the access token’s id (jti), for DELETE /auth/token/{jti}' }),
  token_type: Type.Literal('Bearer'),
  access_token: Type.String(),
  refresh_token: Type.String({ description: 'for POST /auth/token/refresh, once' }),
  expires_at: Type.String({ format: 'date-time', description: 'when the access token expires' }),
});

const JtiParams = Type.Object({ jti: Type.String({ minLength: 1, maxLength: 64 }) });

export interface TokenRoutesOptions {
  tokens: AccessTokens;
  /** whose tokens these are: the authenticated user of the request */
  subjectOf(request: FastifyRequest): string;
}

/**
 * `POST /auth/token`, `POST /auth/token/refresh` and `DELETE /auth/token/{jti}`, alike on the
 * server's 3rdparty API and the device's Local API. Registered in the group whose hook
 * authenticates (Basic, or a token holding the route's scope).
 */
export function tokenRoutes(app: App, options: TokenRoutesOptions): void {
  const { tokens } = options;
  const tags = ['auth'];
  app.post(
    '/auth/token',
    {
      config: { scope: 'tokens:manage' },
      schema: {
        tags,
        summary: 'A new access token with these scopes, and its refresh token',
        operationId: 'issueToken',
        body: TokenRequest,
        response: { 201: TokenResponse, 400: ErrorBodySchema, 403: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const issued = await tokens.issue(options.subjectOf(request), request.body.scopes, request.body.ttl);
      return reply.code(201).send(issued);
    },
  );

  app.post(
    '/auth/token/refresh',
    {
      config: { scope: 'tokens:refresh' },
      schema: {
        tags,
        summary:
          'A new pair for the refresh token sent as Bearer, which is spent; one sent a second time revokes every token issued with it',
        operationId: 'refreshToken',
        response: { 201: TokenResponse, 401: ErrorBodySchema, 403: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const refreshToken = presentedToken(request);
      if (refreshToken === undefined) {
        throw new ForbiddenError('send the refresh token: Authorization: Bearer <refresh_token>');
      }
      return reply.code(201).send(await tokens.refresh(refreshToken));
    },
  );

  app.delete(
    '/auth/token/:jti',
    {
      config: { scope: 'tokens:manage' },
      schema: {
        tags,
        summary: 'Revoke a token, and every token issued with it (refreshed ones, the refresh token)',
        operationId: 'revokeToken',
        params: JtiParams,
        response: { 204: Type.Null({ description: 'also when there is no such token' }) },
      },
    },
    async (request, reply) => {
      await tokens.revoke(options.subjectOf(request), request.params.jti);
      return reply.code(204).send(null);
    },
  );
}
