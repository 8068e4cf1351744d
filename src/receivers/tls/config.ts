// The tcp receiver's `tls:` settings: TLS plaintext read from the TLS libraries by uprobes.
import type { SectionSpec } from '../../config/schema';
import { TLS_RUNTIMES, type TlsRuntimeName } from './runtimes';

export interface TlsConfig {
  enable: boolean;
  runtimes: TlsRuntimeName[];
  library_paths: string[];
}

export const tlsSpec: SectionSpec = {
  enable: {
    type: 'bool',
    default: true,
    doc: 'capture the plaintext of TLS sessions from the TLS libraries (uprobes: needs CAP_SYS_ADMIN, and CAP_SYS_PTRACE to find them in other processes)',
  },
  runtimes: {
    type: 'list',
    of: { type: 'string', enum: TLS_RUNTIMES.map((r) => r.name) },
    default: TLS_RUNTIMES.map((r) => r.name),
    doc: `TLS implementations to hook (${TLS_RUNTIMES.map((r) => `${r.name}: ${r.describe}`).join('; ')})`,
  },
  library_paths: {
    type: 'list',
    of: { type: 'string' },
    default: [],
    doc: 'more TLS library files to hook from the start (besides the system library directories and what running processes map)',
  },
};
