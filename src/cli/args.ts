// Command-line parsing: small enough not to need a library, strict enough to say what is wrong.

import { UserError } from '../core/component';
import type { Level } from '../core/logger';

export type Command =
  | { name: 'run'; config?: string; logLevel?: Level }
  | { name: 'validate'; config?: string; logLevel?: Level }
  | { name: 'doctor' }
  | { name: 'help'; topic?: string }
  | { name: 'version' };

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
const SUBCOMMANDS = ['validate', 'doctor', 'help'];

/** Usage errors exit 2, like configuration errors. */
export const usageError = (msg: string) => new UserError(`${msg} (see tcpsniff-collector --help)`, 2);

export function parseArgs(argv: string[]): Command {
  let sub: 'run' | 'validate' | 'doctor' | 'help' = 'run';
  let config: string | undefined;
  let logLevel: Level | undefined;
  let topic: string | undefined;
  let i = 0;
  if (argv[0] !== undefined && !argv[0].startsWith('-')) {
    if (!SUBCOMMANDS.includes(argv[0])) throw usageError(`unknown command ${JSON.stringify(argv[0])}; commands: ${SUBCOMMANDS.join(', ')}`);
    sub = argv[0] as 'validate' | 'doctor' | 'help';
    i = 1;
  }
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) throw usageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return { name: 'help', topic };
      case '-V':
      case '--version':
        return { name: 'version' };
      case '-c':
      case '--config':
        config = value();
        break;
      case '--log-level': {
        const v = value().toLowerCase();
        if (!LEVELS.includes(v as Level)) throw usageError(`--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(v)}`);
        logLevel = v as Level;
        break;
      }
      default:
        if (sub === 'help' && !arg.startsWith('-') && topic === undefined) {
          topic = arg;
          break;
        }
        throw usageError(arg.startsWith('-') ? `unknown option ${arg}` : `unexpected argument ${JSON.stringify(arg)}`);
    }
  }
  if (sub === 'help') return { name: 'help', topic };
  if (sub === 'doctor') return { name: 'doctor' };
  return { name: sub, config, logLevel };
}
