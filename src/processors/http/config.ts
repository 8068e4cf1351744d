// Configuration of the http processor (section `processors::http[/name]`). See README.md.

import { parseSection, type SectionSpec } from '../../config/schema';

export interface HttpProcessorConfig {
  /** Put decoded request/response bodies on spans (default false: bodies are only counted). */
  capture_bodies: boolean;
  /** At most this many bytes of each body are kept when capture_bodies is on (default 64 KiB). */
  max_body_bytes: number;
  /** Cap on a header section (start line + headers, or trailers) (default 64 KiB). */
  max_header_bytes: number;
  /** Connections tracked at once; the least recently active is evicted beyond (default 10000). */
  max_connections: number;
  /** Requests per connection waiting for their response; the oldest is given up beyond (default 64). */
  max_pending_requests: number;
  /** Connections without traffic for this long (ms) are flushed and forgotten (default 2 minutes). */
  idle_timeout: number;
  /**
   * Keep the bodies of JSON/SSE POST exchanges for span processors (span.internal, never
   * exported): `auto` (default) when a processor downstream in the pipeline reads bodies (genai),
   * `always`, or `never`.
   */
  inspect_bodies: 'auto' | 'always' | 'never';
  /** Bytes kept per inspected body (default 1 MiB). */
  max_inspect_bytes: number;
  /** Header names (case-insensitive) put on spans as http.request.header.<name> / http.response.header.<name>. */
  capture_headers: string[];
  /** Executable (or comm) name → service.name. Unlisted processes use their executable name. */
  service_names: Record<string, string>;
  /** Put process.command_line on resources, every argument redacted (default false: argv carries secrets). */
  command_line: boolean;
}

export const HTTP_CONFIG_SPEC: SectionSpec = {
  capture_bodies: { type: 'bool', default: false, doc: 'put decoded bodies on spans' },
  max_body_bytes: { type: 'bytes', default: 64 * 1024, min: 0, max: 64 * 1024 * 1024, doc: 'bytes kept per body' },
  max_header_bytes: { type: 'bytes', default: 64 * 1024, min: 1024, max: 16 * 1024 * 1024, doc: 'cap on a header section' },
  max_connections: { type: 'int', default: 10_000, min: 1, max: 10_000_000, doc: 'connections tracked at once' },
  max_pending_requests: { type: 'int', default: 64, min: 1, max: 100_000, doc: 'requests waiting per connection' },
  idle_timeout: { type: 'duration', default: 120_000, min: 10, doc: 'idle connections are flushed after this' },
  inspect_bodies: {
    type: 'string',
    default: 'auto',
    enum: ['auto', 'always', 'never'],
    doc: 'keep JSON/SSE POST bodies for span processors (never exported): auto = when one downstream reads them (genai)',
  },
  max_inspect_bytes: { type: 'bytes', default: 1024 * 1024, min: 0, max: 64 * 1024 * 1024, doc: 'bytes kept per inspected body' },
  capture_headers: {
    type: 'list',
    of: { type: 'string' },
    default: [],
    doc: 'header names to put on spans as http.request.header.<name> / http.response.header.<name> (redact them with the redaction processor)',
  },
  service_names: { type: 'stringmap', default: {}, doc: 'executable/comm name → service.name' },
  command_line: { type: 'bool', default: false, doc: 'put process.command_line on resources, every argument redacted (off: argv often carries tokens)' },
};

export function parseHttpConfig(raw: unknown, path: string): HttpProcessorConfig {
  const cfg = parseSection<HttpProcessorConfig>(raw, path, HTTP_CONFIG_SPEC);
  cfg.capture_headers = cfg.capture_headers.map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  return cfg;
}
