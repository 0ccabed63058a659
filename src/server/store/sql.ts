/**
 * A statement of the server store, written once: SQL with `:name` parameters, and a name.
 *
 * SQLite binds `:name` parameters itself (`prepare` in sqlite.ts prepares `text`). PostgreSQL
 * numbers its parameters, so `postgres` holds the same text with `$1, $2, …` and the names in that
 * order, worked out once here; `query` in postgres.ts runs it as a named prepared statement.
 * Statements the two dialects write alike live in each domain's `repository.shared.ts`; a
 * dialect's own (unnest batches, FOR UPDATE, NOTIFY, JSON functions) in its repository file.
 */
export interface Sql<P extends object = object, R = unknown> {
  /** unique in the program: PostgreSQL prepares the statement under this name on each connection */
  readonly name: string;
  /** as written, with `:name` parameters */
  readonly text: string;
  readonly postgres: { readonly text: string; readonly names: readonly (keyof P & string)[] };
  /** types only: the parameters it binds and the rows it returns */
  readonly __types?: { params: P; row: R };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- statements of every parameter and row type
const byName = new Map<string, Sql<any, any>>();

/**
 * Define a statement. Asking again for a name with the same text returns the same statement (list
 * queries build one per filter shape); the same name with another text is a mistake, refused.
 */
export function sql<P extends object = object, R = unknown>(name: string, text: string): Sql<P, R> {
  const known = byName.get(name);
  if (known) {
    if (known.text !== text) throw new Error(`two different statements are named ${name}`);
    return known as Sql<P, R>;
  }
  const statement: Sql<P, R> = { name, text, postgres: numberParameters<P>(text) };
  byName.set(name, statement);
  return statement;
}

/**
 * `:name` → `$n`, each name numbered at its first use, outside string literals, quoted names and
 * comments. `::type` casts are not parameters.
 */
function numberParameters<P>(text: string): { text: string; names: (keyof P & string)[] } {
  const names: string[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const skipTo = (end: string, from: number) => {
      const at = text.indexOf(end, from);
      return at === -1 ? text.length : at + end.length;
    };
    let next = i + 1;
    if (c === "'") next = skipTo("'", i + 1);
    else if (c === '"') next = skipTo('"', i + 1);
    else if (c === '-' && text[i + 1] === '-') next = skipTo('\n', i);
    else if (c === '/' && text[i + 1] === '*') next = skipTo('*/', i + 2);
    else if (c === ':' && text[i + 1] === ':') next = i + 2;
    else if (c === ':' && /[A-Za-z_]/.test(text[i + 1] ?? '') && !/\w/.test(text[i - 1] ?? '')) {
      const name = /^[A-Za-z_]\w*/.exec(text.slice(i + 1))![0];
      if (!names.includes(name)) names.push(name);
      out += `$${names.indexOf(name) + 1}`;
      i += 1 + name.length;
      continue;
    }
    out += text.slice(i, next);
    i = next;
  }
  return { text: out, names: names as (keyof P & string)[] };
}
