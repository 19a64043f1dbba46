/** What the server needs of a logger (core, the stores, HTTP); pino's Logger fits it. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** A logger that says nothing. */
export const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
