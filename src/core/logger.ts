// Minimal leveled logger writing to stderr, so stdout stays for span output (debug exporter).

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

export function createLogger(level: Level = 'info', scope = '', write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string) => {
    if (ORDER[lvl] < min) return;
    const prefix = scope ? `[${scope}] ` : '';
    write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${prefix}${msg}`);
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (s) => createLogger(level, scope ? `${scope}/${s}` : s, write),
  };
}
