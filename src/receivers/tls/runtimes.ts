// The TLS implementations the tls capture hooks: which files they live in and which of their
// functions get which program of bpf/include/tls_capture.h (each also gets tls_exit at return).
import * as path from 'node:path';

export interface TlsHook {
  func: string;
  /** Entry program; the return program is always TLS_EXIT_PROGRAM. */
  entry: string;
  /** Absent in some versions (OpenSSL 1.0 has no _ex functions): skipped then. */
  optional?: boolean;
}

export interface TlsRuntime {
  name: 'openssl' | 'node';
  label: string;
  describe: string;
  /** A mapped file (its path in the process's mount namespace) that may hold this runtime. */
  matches(file: string): boolean;
  hooks: TlsHook[];
}

export const TLS_EXIT_PROGRAM = 'tls_exit';

export const TLS_RUNTIMES: TlsRuntime[] = [
  {
    name: 'openssl',
    label: 'OpenSSL',
    describe: 'OpenSSL 1.1 and 3.x shared libraries (libssl.so.*)',
    // libssl3.so is NSS's, not OpenSSL's.
    matches: (file) => /^libssl\.so(\.\d+)*$/.test(path.basename(file)),
    hooks: [
      { func: 'SSL_write', entry: 'tls_enter_write' },
      { func: 'SSL_read', entry: 'tls_enter_read' },
      { func: 'SSL_write_ex', entry: 'tls_enter_write_ex', optional: true },
      { func: 'SSL_read_ex', entry: 'tls_enter_read_ex', optional: true },
      // No plaintext, but their socket calls bind the session (and keep the handshake's
      // ciphertext out of the capture).
      { func: 'SSL_do_handshake', entry: 'tls_enter_control', optional: true },
      { func: 'SSL_shutdown', entry: 'tls_enter_control', optional: true },
    ],
  },
  {
    name: 'node',
    label: "Node.js's OpenSSL",
    describe: 'the OpenSSL inside the node executable (memory BIO: bound by lengths, see bpf/include/tls_capture.h)',
    // The executable itself, wherever it is (found in each process's maps, like a library).
    matches: (file) => /^(node|nodejs)$/.test(path.basename(file)),
    hooks: [
      { func: 'SSL_write', entry: 'tls_enter_write_membio' },
      { func: 'SSL_read', entry: 'tls_enter_read_membio' },
      { func: 'SSL_write_ex', entry: 'tls_enter_write_ex_membio', optional: true },
      { func: 'SSL_read_ex', entry: 'tls_enter_read_ex_membio', optional: true },
    ],
  },
];

export type TlsRuntimeName = TlsRuntime['name'];

/** Every program of bpf/include/tls_capture.h (attached on demand; absent from the object's start). */
export const TLS_PROGRAMS = [...new Set([TLS_EXIT_PROGRAM, 'tls_enter_control', ...TLS_RUNTIMES.flatMap((r) => r.hooks.map((h) => h.entry))])];

/** Directories where distributions keep shared libraries. */
export function systemLibraryDirs(arch = process.arch): string[] {
  const multiarch = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [`/usr/lib/${multiarch}`, `/lib/${multiarch}`, '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib', '/usr/local/lib64'];
}
