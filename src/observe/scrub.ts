/**
 * An error's message with any URL password replaced by `***` (`scheme://user:secret@host` →
 * `scheme://user:***@host`), for health bodies and logs: a driver's message may quote the
 * connection string it was given, and a health endpoint must never show a secret.
 */
export function scrubSecrets(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/\s]*@/gi, '$1:***@');
}
