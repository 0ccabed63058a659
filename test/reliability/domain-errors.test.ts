import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp } from '../../src/shared/http.ts';
import {
  ConflictError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  NotImplementedError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  type DomainError,
} from '../../src/shared/errors.ts';

test('every kind of domain error becomes its status, with the message as the body', async () => {
  const cases: [DomainError, number][] = [
    [new InvalidInputError('bad value'), 400],
    [new UnauthorizedError('who are you'), 401],
    [new ForbiddenError('not yours'), 403],
    [new NotFoundError('no such thing'), 404],
    [new ConflictError('taken'), 409],
    [new TooManyRequestsError('slow down', 7), 429],
    [new NotImplementedError('not here'), 501],
    [new UnavailableError('away', 5), 503],
  ];
  const app = createApp();
  cases.forEach(([error], i) =>
    app.get(`/${i}`, async () => {
      throw error;
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    for (const [i, [error, status]] of cases.entries()) {
      const response = await fetch(`http://127.0.0.1:${port}/${i}`);
      assert.equal(response.status, status, error.name);
      assert.deepEqual(await response.json(), { message: error.message });
      assert.equal(
        response.headers.get('www-authenticate'),
        status === 401 ? 'Basic realm="smsgate", charset="UTF-8"' : null,
        `${error.name}: a 401 says how to authenticate`,
      );
      const retryAfter = 'retryAfterSeconds' in error ? String(error.retryAfterSeconds) : null;
      assert.equal(response.headers.get('retry-after'), retryAfter, `${error.name}: Retry-After`);
    }
  } finally {
    await app.close();
  }
});

test('storage that is full or locked answers 503 with Retry-After, not 500', async () => {
  const cases: [code: string, message: RegExp, retryAfter: string][] = [
    ['SQLITE_FULL', /the disk is full/, '10'],
    ['SQLITE_BUSY', /the database is busy; try again shortly/, '1'],
  ];
  const app = createApp();
  cases.forEach(([code], i) =>
    app.get(`/${i}`, async () => {
      throw Object.assign(new Error(`a write failed (${code})`), { code });
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    for (const [i, [code, message, retryAfter]] of cases.entries()) {
      const response = await fetch(`http://127.0.0.1:${port}/${i}`);
      assert.equal(response.status, 503, code);
      assert.match(((await response.json()) as { message: string }).message, message);
      assert.equal(response.headers.get('retry-after'), retryAfter, `${code}: Retry-After`);
    }
  } finally {
    await app.close();
  }
});
