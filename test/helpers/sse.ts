import assert from 'node:assert/strict';

export interface OpenStream {
  /** the frames read so far, `data` parsed */
  frames: { type: string; data: any }[];
  /** resolves once the stream ended (the server closed it, or close() was called) */
  ended: Promise<void>;
  close(): void;
}

/** Open a Server-Sent Events stream and collect its frames until closed. */
export async function openStream(url: string, authorization: string): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { authorization }, signal: controller.signal });
  assert.equal(response.status, 200, `GET ${url}`);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const frames: OpenStream['frames'] = [];
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) frames.push({ type, data: JSON.parse(data) });
      }
    }
  })().catch(() => {});
  return { frames, ended, close: () => controller.abort() };
}
