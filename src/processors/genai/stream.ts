// Response bodies of streamed LLM calls: Server-Sent Events (text/event-stream, over chunked
// responses: the http processor has already removed the chunked framing, but events still span
// body pieces), NDJSON (Ollama) and JSON arrays (Gemini without alt=sse). Incremental, so each
// event gets the capture time of the piece that completed it.

export interface StreamEvent {
  /** SSE `event:` field ('' when absent; 'message' is the SSE default). */
  event: string;
  data: string;
  /** Capture time of the body piece that completed the event. */
  time: bigint;
}

/** Incremental SSE parser (WHATWG HTML § 9.2.6): lines end in CRLF, LF or CR; a blank line dispatches. */
export class SseParser {
  private buf = '';
  private event = '';
  private data: string[] = [];
  private pendingCR = false;
  readonly events: StreamEvent[] = [];
  private bom = true;

  push(text: string, time: bigint): void {
    if (this.bom) {
      if (text.length === 0) return;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.bom = false;
    }
    let s = this.buf + text;
    let start = 0;
    if (this.pendingCR && s.startsWith('\n')) start = 1; // the LF of a CRLF split across pieces
    this.pendingCR = false;
    for (let i = start; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(s.slice(start, i), time);
      if (c === 13) {
        if (i + 1 < s.length) {
          if (s.charCodeAt(i + 1) === 10) i++;
        } else this.pendingCR = true;
      }
      start = i + 1;
    }
    s = s.slice(start);
    this.buf = s;
  }

  /** End of the body: an event without its final blank line is not dispatched (per the spec). */
  end(): void {
    this.buf = '';
  }

  private line(line: string, time: bigint): void {
    if (line === '') {
      if (this.data.length > 0) this.events.push({ event: this.event, data: this.data.join('\n'), time });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58 /* : comment */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

/** NDJSON: one JSON value per line; a line is complete at its LF. */
export class NdjsonParser {
  private buf = '';
  readonly events: StreamEvent[] = [];

  push(text: string, time: bigint): void {
    const s = this.buf + text;
    let start = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', start)) {
      const line = s.slice(start, nl).trim();
      if (line !== '') this.events.push({ event: '', data: line, time });
      start = nl + 1;
    }
    this.buf = s.slice(start);
  }

  end(time: bigint): void {
    const line = this.buf.trim();
    if (line !== '') this.events.push({ event: '', data: line, time });
    this.buf = '';
  }
}
