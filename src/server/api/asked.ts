import { Type } from '@sinclair/typebox';
import { ErrorBodySchema } from '../../protocol/index.ts';

/**
 * The answer of a route that asks a device to act (redeliver, send a test event): the device acts
 * later and reports, so the answer names what was asked of which device, and where the outcome
 * will show.
 */
export const AskedDeviceSchema = Type.Object({ id: Type.String(), deviceId: Type.String(), message: Type.String() });

/** Such a route's answers: 202 once asked, 404 for no such thing, 409 when no device can be asked now. */
export const ASKED_DEVICE_RESPONSES = { 202: AskedDeviceSchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
