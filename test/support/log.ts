/** One line a logger was told: its level, message and fields. */
export interface LogLine {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

/** A logger (pino's shape, as core and the stores take it) that keeps what it was told. */
export function recorder() {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object | string, msg?: string): void => {
    lines.push(typeof obj === 'string' ? { level, msg: obj, obj: {} } : { level, msg: msg ?? '', obj: obj as Record<string, unknown> });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Retries `fn` until it resolves or `ms` passed (then its last error), every `stepMs`. */
export async function eventually<T>(fn: () => Promise<T>, ms = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}
