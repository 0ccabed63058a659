import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { App } from './http.ts';
import { parseBasicAuth } from './http.ts';
import { ErrorBodySchema, IdString } from '../protocol/index.ts';
import { ACCESS_TTL_SECONDS, TOKEN_GRANTS_LISTED, type AccessTokens } from './access-tokens.ts';
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

const Instant = (description: string) => Type.String({ format: 'date-time', description });
const TokenGrantSchema = Type.Object({
  id: Type.String({ description: 'its newest access token’s id (jti): DELETE /auth/token/{jti} revokes the grant' }),
  scopes: Type.Array(Type.String()),
  issuedAt: Instant('when POST /auth/token issued it'),
  expiresAt: Instant('when its newest access token expires'),
  renewableUntil: Type.Union([Instant('until when its refresh token can be used'), Type.Null()], {
    description: 'null: its refresh token is spent or gone',
  }),
  revokedAt: Type.Union([Instant('when it was revoked'), Type.Null()]),
  state: Type.Union(
    [Type.Literal('active'), Type.Literal('renewable'), Type.Literal('expired'), Type.Literal('revoked')],
    {
      description:
        'active: its access token works; renewable: only its refresh token does; expired; revoked: neither works',
    },
  ),
});

const iso = (ms: number) => new Date(ms).toISOString();

const JtiParams = Type.Object({ jti: IdString(64) });

export interface TokenRoutesOptions {
  tokens: AccessTokens;
  /** whose tokens these are: the authenticated user of the request */
  subjectOf(request: FastifyRequest): string;
}

/**
 * `POST /auth/token`, `GET /auth/token` (the list), `POST /auth/token/refresh` and
 * `DELETE /auth/token/{jti}`, alike on the
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

  app.get(
    '/auth/token',
    {
      config: { scope: 'tokens:manage' },
      schema: {
        tags,
        summary: `Your tokens, one per POST /auth/token (with the pairs refreshed from it), newest first, at most ${TOKEN_GRANTS_LISTED}; never the tokens themselves`,
        operationId: 'listTokens',
        response: { 200: Type.Array(TokenGrantSchema) },
      },
    },
    async (request) =>
      (await tokens.list(options.subjectOf(request))).map((grant) => ({
        ...grant,
        issuedAt: iso(grant.issuedAt),
        expiresAt: iso(grant.expiresAt),
        renewableUntil: grant.renewableUntil === null ? null : iso(grant.renewableUntil),
        revokedAt: grant.revokedAt === null ? null : iso(grant.revokedAt),
      })),
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
