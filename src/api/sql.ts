// Query parameters collected while a statement is assembled from optional filters: each value is
// bound, never spliced into the SQL text.
export class SqlParams {
  readonly values: unknown[] = [];

  /** Bind a value and return its placeholder (`$1`, `$2`, ...). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
