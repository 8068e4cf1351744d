// The TLS implementations the tls capture hooks: which files they live in and which of their
// functions (and instructions) get which program of bpf/include/tls_capture.h.
import * as path from 'node:path';
import { goTlsFunctions, type GoTlsFunction } from './go-binary';

export interface TlsHook {
  func: string;
  program: string;
  /** Bytes into the function (an instruction: Go's RETs); 0 is its entry. */
  offset?: number;
  /** Absent in some versions (OpenSSL 1.0 has no _ex functions): skipped then. */
  optional?: boolean;
}

export interface TlsRuntime {
  name: 'openssl' | 'node' | 'go';
  label: string;
  describe: string;
  /** A mapped file (its path in the process's mount namespace) that may hold this runtime. */
  matches(file: string): boolean;
  /** Looked for in each process's executable (/proc/PID/exe) instead of by file name. */
  executable?: boolean;
  /** What to attach in one file, in order; undefined when the file is not this runtime. */
  hooks(file: string): TlsHook[] | undefined;
}

export const TLS_EXIT_PROGRAM = 'tls_exit';

/** The return probe first: an entry without its return would leave calls pending. */
const entryAndExit = (func: string, entry: string, optional?: boolean): TlsHook[] => [
  { func, program: TLS_EXIT_PROGRAM, optional },
  { func, program: entry, optional },
];

const OPENSSL_HOOKS: TlsHook[] = [
  ...entryAndExit('SSL_write', 'tls_enter_write'),
  ...entryAndExit('SSL_read', 'tls_enter_read'),
  ...entryAndExit('SSL_write_ex', 'tls_enter_write_ex', true),
  ...entryAndExit('SSL_read_ex', 'tls_enter_read_ex', true),
  // No plaintext, but their socket calls bind the session (and keep the handshake's ciphertext
  // out of the capture).
  ...entryAndExit('SSL_do_handshake', 'tls_enter_control', true),
  ...entryAndExit('SSL_shutdown', 'tls_enter_control', true),
];

const NODE_HOOKS: TlsHook[] = [
  ...entryAndExit('SSL_write', 'tls_enter_write_membio'),
  ...entryAndExit('SSL_read', 'tls_enter_read_membio'),
  ...entryAndExit('SSL_write_ex', 'tls_enter_write_ex_membio', true),
  ...entryAndExit('SSL_read_ex', 'tls_enter_read_ex_membio', true),
];

export const TLS_RUNTIMES: TlsRuntime[] = [
  {
    name: 'openssl',
    label: 'OpenSSL',
    describe: 'OpenSSL 1.1 and 3.x shared libraries (libssl.so.*)',
    // libssl3.so is NSS's, not OpenSSL's.
    matches: (file) => /^libssl\.so(\.\d+)*$/.test(path.basename(file)),
    hooks: () => OPENSSL_HOOKS,
  },
  {
    name: 'node',
    label: "Node.js's OpenSSL",
    describe: 'the OpenSSL inside the node executable (memory BIO: bound by lengths, see bpf/include/tls_capture.h)',
    // The executable itself, wherever it is (found in each process's maps, like a library).
    matches: (file) => /^(node|nodejs)$/.test(path.basename(file)),
    hooks: () => NODE_HOOKS,
  },
  {
    name: 'go',
    label: "Go's crypto/tls",
    describe: 'Go executables with crypto/tls (amd64, stripped or not; probes at the RET instructions)',
    matches: () => false,
    executable: true,
    hooks(file) {
      if (process.arch !== 'x64') return undefined;
      const fns = goTlsFunctions(file);
      if (!fns) return undefined;
      // The RETs first, for the same reason as the return probes above.
      // Stripped: no symbol to attach by, so at file offsets (func '').
      const at = (f: GoTlsFunction | undefined, entry: string, exit = 'go_exit'): TlsHook[] => {
        if (!f) return [];
        const func = f.fileOffset === undefined ? f.symbol : '';
        const base = f.fileOffset ?? 0;
        return [...f.rets.map((ret) => ({ func, program: exit, offset: base + ret })), { func, program: entry, offset: base }];
      };
      return [...at(fns.write, 'go_enter_write'), ...at(fns.read, 'go_enter_read'), ...at(fns.handshake, 'go_enter_handshake', 'go_exit_handshake')];
    },
  },
];

export type TlsRuntimeName = TlsRuntime['name'];

/** Every program of bpf/include/tls_capture.h (attached on demand; absent from the object's start). */
export const TLS_PROGRAMS = [
  ...new Set([...OPENSSL_HOOKS, ...NODE_HOOKS].map((h) => h.program)),
  'go_enter_write',
  'go_enter_read',
  'go_enter_handshake',
  'go_exit',
  'go_exit_handshake',
];

/** Directories where distributions keep shared libraries. */
export function systemLibraryDirs(arch = process.arch): string[] {
  const multiarch = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [`/usr/lib/${multiarch}`, `/lib/${multiarch}`, '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib', '/usr/local/lib64'];
}
