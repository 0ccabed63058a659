/** How tests call the HTTP APIs of every runtime: one call function and the Authorization headers. */

export const basic = (login: string, password: string) =>
  'Basic ' + Buffer.from(`${login}:${password}`).toString('base64');
export const bearer = (token: string) => `Bearer ${token}`;

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  auth?: string;
  /** Sent as JSON, with its content type. */
  body?: unknown;
  /** Sent as it is, with no content type unless `headers` gives one. */
  rawBody?: string;
  headers?: Record<string, string>;
}

/** One raw HTTP call: status, parsed body (the text when it is not JSON, undefined when empty), headers. */
export async function call<T = any>(url: string, method: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {
    ...(options.auth ? { authorization: options.auth } : {}),
  };
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, options.headers);
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}
