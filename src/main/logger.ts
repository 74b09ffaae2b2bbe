import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout (or a given stream); every line can carry cart uid and file id. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'cartd', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
