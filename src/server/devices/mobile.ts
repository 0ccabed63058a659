import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema, HealthSchema } from '../../protocol/index.ts';
import { safeEqual } from '../../shared/http.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf, optionalUser, parseBearer } from '../api/auth.ts';
import { DeviceSchema } from './3rdparty.ts';
import { toDeviceView } from './service.ts';
import { UnauthorizedError, ForbiddenError } from '../../shared/errors.ts';

const RegisterBody = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    pushToken: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  // the Android app also sends e.g. simCards; unknown keys are ignored
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
    id: Type.Optional(Type.String({ maxLength: 64 })),
    pushToken: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: true },
);
const tags = ['device'];

/**
 * Registration: with the private token (a new user), with the Basic auth of an existing user
 * (one more device for that user), or open in public mode. No device token yet, so this
 * route lives outside the device-auth scope.
 */
export function deviceRegistrationRoutes(app: App, ctx: ServerContext): void {
  app.post(
    '/device',
    {
      schema: {
        tags,
        summary: 'Register a device',
        operationId: 'registerDevice',
        // no device token yet: the private token, a user's Basic auth (or nothing, on a public server)
        security: [{ bearerAuth: [] }, { basicAuth: [] }],
        body: RegisterBody,
        response: { 201: RegisterReply, 401: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const existing = await optionalUser(ctx, request);
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
  app.get(
    '/device',
    {
      schema: {
        tags,
        summary: 'This device',
        operationId: 'getDevice',
        response: { 200: Type.Object({ device: DeviceSchema, externalIp: Type.String() }) },
      },
    },
    async (request) => ({ device: toDeviceView(deviceOf(request)), externalIp: request.ip }),
  );

  app.patch(
    '/device',
    {
      schema: {
        tags,
        summary: "Update this device's push token",
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
    async (request, reply) => {
      await ctx.devices.ping(deviceOf(request).id);
      return reply.code(204).send(null);
    },
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
    async (request, reply) => {
      await ctx.devices.reportHealth(deviceOf(request).id, request.body);
      return reply.code(204).send(null);
    },
  );
}

/** What the throttle counts private-token guesses under (no login can contain a space). */
const PRIVATE_TOKEN_LOGIN = 'the private token';

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
