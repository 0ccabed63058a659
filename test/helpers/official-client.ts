import Client, { type HttpClient } from 'android-sms-gateway';

/** The HttpClient the official client needs, on fetch; errors carry status and the server's message. */
export const fetchHttpClient: HttpClient = {
  get: (url, headers) => call('GET', url, undefined, headers),
  post: (url, body, headers) => call('POST', url, body, headers),
  put: (url, body, headers) => call('PUT', url, body, headers),
  patch: (url, body, headers) => call('PATCH', url, body, headers),
  delete: (url, headers) => call('DELETE', url, undefined, headers),
};

export class HttpStatusError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function call<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new HttpStatusError(response.status, `${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export function officialClient(login: string, password: string, baseUrl: string): Client {
  return new Client(login, password, fetchHttpClient, baseUrl);
}
