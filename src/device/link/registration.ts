import type { Dispatcher } from 'undici';
import type { MetaStore } from '../store/meta.ts';
import { MobileApiError, MobileClient, register } from './mobile-client.ts';

/** What the device keeps of its registration with a server (meta key `link_registration`). */
export interface StoredRegistration {
  serverUrl: string;
  id: string;
  token: string;
  login: string;
}

export interface RegistrationRequest {
  serverUrl: string;
  /** the private token of a private server (registers a new user) */
  privateToken?: string;
  /** attach to an existing server user instead of creating one */
  login?: string;
  password?: string;
  /** the device's name on the server */
  name: string;
  /** how requests go out (default: shared kept-alive connections) */
  dispatcher?: Dispatcher;
}

/**
 * The device's registration with the server: the kept one while the server still accepts its
 * token, even if the server's address changed; a fresh one (kept from then on) when there is none
 * or the server no longer knows it (401, 403, 404). `createdPassword` is the new server user's
 * password, when this registration created one.
 */
export async function ensureRegistration(
  meta: MetaStore,
  request: RegistrationRequest,
): Promise<{ registration: StoredRegistration; createdPassword: string | undefined }> {
  const stored = meta.getJson<StoredRegistration>('link_registration');
  if (stored && (await stillRegistered(request.serverUrl, stored.token, request.dispatcher))) {
    const registration = { ...stored, serverUrl: request.serverUrl };
    meta.setJson('link_registration', registration);
    return { registration, createdPassword: undefined };
  }
  const created = await register(request.serverUrl, {
    privateToken: request.privateToken,
    basicAuth:
      request.login !== undefined && request.password !== undefined
        ? { login: request.login, password: request.password }
        : undefined,
    name: request.name,
    dispatcher: request.dispatcher,
  });
  const registration = { serverUrl: request.serverUrl, id: created.id, token: created.token, login: created.login };
  meta.setJson('link_registration', registration);
  return { registration, createdPassword: created.password };
}

async function stillRegistered(serverUrl: string, token: string, dispatcher?: Dispatcher): Promise<boolean> {
  try {
    await new MobileClient(serverUrl, token, { dispatcher }).getDevice();
    return true;
  } catch (error) {
    // the server no longer knows this token or device; anything else (unreachable) is not an answer
    if (error instanceof MobileApiError && ['unauthorized', 'forbidden', 'not-found'].includes(error.kind))
      return false;
    throw error;
  }
}
