import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from '../../src/server/store/sql.ts';
import { createPool, query } from '../../src/server/store/postgres.ts';
import { createTestDatabase } from '../postgres/helpers.ts';

test('a statement is written once with :name parameters; PostgreSQL gets them numbered in order of first use', () => {
  const statement = sql<{ ids: string[]; at: number; note: string }>(
    'test.numbering',
    `UPDATE t SET at = :at, note = ':not_a_parameter', "odd:name" = :note -- :comment
      FROM unnest(:ids::text[]) AS x(id) /* :block */ WHERE t.id = x.id AND t.at < :at::bigint`,
  );
  assert.equal(
    statement.postgres.text,
    `UPDATE t SET at = $1, note = ':not_a_parameter', "odd:name" = $2 -- :comment
      FROM unnest($3::text[]) AS x(id) /* :block */ WHERE t.id = x.id AND t.at < $1::bigint`,
  );
  assert.deepEqual(statement.postgres.names, ['at', 'note', 'ids']);
  assert.match(statement.text, /= :at, note/, 'SQLite gets the text as written');
});

test('a name means one statement: asked again with the same text it is the same, with another text refused', () => {
  const first = sql('test.unique', 'SELECT 1');
  assert.equal(sql('test.unique', 'SELECT 1'), first);
  assert.throws(() => sql('test.unique', 'SELECT 2'), /two different statements are named test\.unique/);
});

test('on PostgreSQL a parameter left undefined is refused, not stored as NULL; null is NULL', async () => {
  const db = await createTestDatabase();
  const pool = createPool(db.url);
  try {
    const echo = sql<{ a: string | null; b?: string }, { a: string | null; b: string | null }>(
      'test.echo',
      'SELECT :a::text AS a, :b::text AS b',
    );
    await assert.rejects(query(pool, echo, { a: 'x' }), /test\.echo: no value for :b/);
    const { rows } = await query(pool, echo, { a: null, b: 'y' });
    assert.deepEqual(rows, [{ a: null, b: 'y' }]);
  } finally {
    await pool.end();
    await db.drop();
  }
});
