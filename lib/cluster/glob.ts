/** A literal for a Redis SCAN MATCH pattern (keys with user-given parts): its special characters escaped. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);
}
