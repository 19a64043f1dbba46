import pino from 'pino';
import pretty from 'pino-pretty';

/** pino level for Java's `log.level` (1 fatal ... 6 trace; 0 silences). */
function pinoLevel(level: number): pino.LevelWithSilent {
  return (['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const)[Math.min(level, 6)];
}

/**
 * The logger a server makes when none is given: JSON lines on stdout for log collectors, and on
 * a terminal one readable line per entry (pino-pretty, written synchronously so that the lines
 * just before an exit are not lost).
 */
export function defaultLogger(level: number, terminal = process.stdout.isTTY === true): pino.Logger {
  const opts = { level: pinoLevel(level) };
  return terminal ? pino(opts, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })) : pino(opts);
}
