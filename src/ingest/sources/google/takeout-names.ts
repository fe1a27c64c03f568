// Takeout's file and folder names, compared across languages: for detection by name (entries.ts
// modules), so kept apart from the parsers.

/** Compares a file name case-insensitively and without accents against known names. */
export function foldName(name: string): string {
  return name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}
