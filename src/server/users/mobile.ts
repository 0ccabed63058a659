import { Type } from '@sinclair/typebox';
import type { App } from '../../shared/http.ts';
import { ErrorBodySchema } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { deviceOf } from '../api/auth.ts';
import { UnauthorizedError } from '../../shared/errors.ts';
import { MOBILE_MIN_PASSWORD_LENGTH } from './service.ts';

const ChangePasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 256 }),
    // the original's minimum for this route (its app's generated passwords have 14 characters)
    newPassword: Type.String({ minLength: MOBILE_MIN_PASSWORD_LENGTH, maxLength: 256 }),
  },
  { additionalProperties: false },
);

/** As in the original: the device changes its user's password, proving the current one. */
export function usersMobileRoutes(app: App, ctx: ServerContext): void {
  app.patch(
    '/user/password',
    {
      schema: {
        tags: ['user'],
        summary: "Change the password of this device's user",
        operationId: 'changePassword',
        body: ChangePasswordBody,
        response: { 204: Type.Null(), 400: ErrorBodySchema, 401: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const user = await ctx.users.get(deviceOf(request).userId);
      // A wrong current password is a failed login of the user: a device token must not allow unlimited guesses.
      ctx.loginThrottle.check(request.ip, user.login);
      try {
        await ctx.users.changeOwnPassword(user.id, body.currentPassword, body.newPassword);
      } catch (error) {
        if (error instanceof UnauthorizedError) ctx.loginThrottle.failed(request.ip, user.login);
        throw error;
      }
      return reply.code(204).send(null);
    },
  );
}
