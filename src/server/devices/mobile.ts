import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema, HealthSchema, IdString, ReportedSimCardsSchema } from '../../protocol/index.ts';
import { noContent, safeEqual } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import type { FastifyRequest } from 'fastify';
import { deviceOf, optionalDevice, optionalUser, parseBearer, parseRegistrationCode } from '../api/auth.ts';
import type { AuthenticatedUser } from '../users/service.ts';
import { DeviceSchema } from './3rdparty.ts';
import { toDeviceView } from './service.ts';
import { UnauthorizedError, ForbiddenError } from '../../shared/errors.ts';

const RegisterBody = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    pushToken: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    simCards: Type.Optional(Type.Union([ReportedSimCardsSchema, Type.Null()])),
  },
  // keys a newer app may add are ignored
  { additionalProperties: true },
);
const RegisterReply = Type.Object({
  id: Type.String(),
  token: Type.String(),
  login: Type.String(),
  password: Type.Optional(Type.String({ description: 'only for a newly created user' })),
});
const UpdateBody = Type.Object(
  {
    id: Type.Optional(IdString(64, { allowEmpty: true })),
    pushToken: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    simCards: Type.Optional(Type.Union([ReportedSimCardsSchema, Type.Null()])),
  },
  { additionalProperties: true },
);
const DeviceReply = Type.Object({
  device: Type.Optional(DeviceSchema),
  externalIp: Type.String({ description: "the caller's address as the server sees it" }),
});
const CodeReply = Type.Object({
  code: Type.String({ description: 'six digits' }),
  validUntil: Type.String({ description: 'ISO 8601; the code registers one phone until then' }),
});
const tags = ['device'];

/**
 * Registration: with the private token (a new user), with the Basic auth of an existing user or
 * a one-time code of that user (one more device for that user), or open in public mode. No device
 * token yet, so these routes live outside the device-auth scope, as do the code itself (Basic auth)
 * and `GET /device`, which the app calls before it has registered.
 */
export function deviceRegistrationRoutes(app: App, ctx: ServerContext): void {
  app.get(
    '/device',
    {
      schema: {
        tags,
        summary: 'This device, when a valid token is given (otherwise only the external address)',
        operationId: 'getDevice',
        security: [{ bearerAuth: [] }, {}],
        response: { 200: DeviceReply },
      },
    },
    async (request) => {
      const device = await optionalDevice(ctx, request);
      return { ...(device ? { device: toDeviceView(device) } : {}), externalIp: request.ip };
    },
  );

  app.get(
    '/user/code',
    {
      schema: {
        tags: ['user'],
        summary: 'A one-time code that registers a phone for you (Authorization: Code <code> on POST /device)',
        operationId: 'getRegistrationCode',
        security: [{ basicAuth: [] }],
        response: { 200: CodeReply, 401: ErrorBodySchema },
      },
    },
    async (request) => {
      const user = await optionalUser(ctx, request);
      if (!user) throw new UnauthorizedError('send the Basic auth of the user the code is for');
      const { code, validUntil } = await ctx.users.newRegistrationCode(user.id);
      return { code, validUntil: new Date(validUntil).toISOString() };
    },
  );

  app.post(
    '/device',
    {
      schema: {
        tags,
        summary: 'Register a device',
        operationId: 'registerDevice',
        // no device token yet: the private token, a user's Basic auth or one-time code (or nothing, on a public server)
        security: [{ bearerAuth: [] }, { basicAuth: [] }, { registrationCode: [] }],
        body: RegisterBody,
        response: { 201: RegisterReply, 401: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const existing = (await optionalUser(ctx, request)) ?? (await userOfCode(ctx, request));
      let userId: string;
      let login: string;
      let password: string | undefined;
      if (existing) {
        ({ id: userId, login } = existing);
      } else {
        if (!ctx.publicMode) checkPrivateToken(ctx, parseBearer(request), request.ip);
        const created = await ctx.users.createGenerated();
        ({ id: userId, login } = created.user);
        password = created.password;
      }
      const { device, token } = await ctx.devices.register(userId, body);
      return reply.code(201).send({ id: device.id, token, login, ...(password !== undefined ? { password } : {}) });
    },
  );
}

/** The device's own record; the requireDevice hook runs first. */
export function devicesMobileRoutes(app: App, ctx: ServerContext): void {
  app.post(
    '/device/token',
    {
      schema: {
        tags,
        summary:
          'A new token for this device; the one this request was sent with stops working at once (device tokens do not expire: this replaces one that may have leaked)',
        operationId: 'rotateDeviceToken',
        response: { 201: Type.Object({ token: Type.String() }), 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const token = await ctx.devices.rotateToken(deviceOf(request), parseBearer(request)!);
      return reply.code(201).send({ token });
    },
  );

  app.patch(
    '/device',
    {
      schema: {
        tags,
        summary: "Update this device's push token and SIM cards",
        operationId: 'updateDevice',
        body: UpdateBody,
        response: { 204: Type.Null(), 403: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const device = deviceOf(request);
      const { body } = request;
      if (body.id !== undefined && body.id !== device.id) {
        throw new ForbiddenError(`id "${body.id}" is not the device this token belongs to (${device.id})`);
      }
      if (body.pushToken !== undefined) await ctx.devices.updatePushToken(device.id, body.pushToken);
      if (body.simCards != null) await ctx.devices.updateSimCards(device.id, body.simCards);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/device/ping',
    {
      schema: {
        tags,
        summary: 'Tell the server this device is alive (updates lastSeen)',
        operationId: 'ping',
        response: { 204: Type.Null() },
      },
    },
    (request, reply) => noContent(reply, ctx.devices.ping(deviceOf(request).id)),
  );

  app.put(
    '/device/health',
    {
      schema: {
        tags,
        summary:
          "Report this device's health (the document its GET /health serves); the server keeps the latest and shows it with the device",
        operationId: 'reportHealth',
        body: HealthSchema,
        response: { 204: Type.Null() },
      },
    },
    (request, reply) => noContent(reply, ctx.devices.reportHealth(deviceOf(request).id, request.body)),
  );
}

/** What the throttle counts private-token guesses under (no login can contain a space). */
const PRIVATE_TOKEN_LOGIN = 'the private token';
/** …and registration-code guesses (six digits: the throttle is what keeps them from being tried all). */
const REGISTRATION_CODE_LOGIN = 'a registration code';

/** The user of `Authorization: Code <code>`, using the code up; undefined without one, 401 for a wrong one. */
async function userOfCode(ctx: ServerContext, request: FastifyRequest): Promise<AuthenticatedUser | undefined> {
  const code = parseRegistrationCode(request);
  if (code === undefined) return undefined;
  ctx.loginThrottle.check(request.ip, REGISTRATION_CODE_LOGIN);
  const user = await ctx.users.useRegistrationCode(code);
  if (!user) {
    ctx.loginThrottle.failed(request.ip, REGISTRATION_CODE_LOGIN);
    throw new UnauthorizedError(
      'unknown, used or expired registration code; get a new one with GET /mobile/v1/user/code (Basic auth of the user)',
    );
  }
  ctx.loginThrottle.succeeded(request.ip, REGISTRATION_CODE_LOGIN);
  return { id: user.id, login: user.login };
}

/** The private token is a password (it may be one chosen by hand): a wrong one is a failed login. */
function checkPrivateToken(ctx: ServerContext, given: string | undefined, address: string): void {
  const hint =
    'this server is private: send Authorization: Bearer <private token> (printed by `smsgate server`), or the Basic auth of an existing user to add a device to that user';
  if (given === undefined) throw new UnauthorizedError(`missing credentials; ${hint}`);
  ctx.loginThrottle.check(address, PRIVATE_TOKEN_LOGIN);
  if (ctx.privateToken === undefined || !safeEqual(given, ctx.privateToken)) {
    ctx.loginThrottle.failed(address, PRIVATE_TOKEN_LOGIN);
    throw new UnauthorizedError(`wrong private token; ${hint}`);
  }
  ctx.loginThrottle.succeeded(address, PRIVATE_TOKEN_LOGIN);
}
