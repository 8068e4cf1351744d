// Whether a Server-Sent Events body (text/event-stream) has reached its final event: streaming
// LLM APIs end with one (`data: [DONE]` for OpenAI and compatible servers, `event: message_stop`
// for Anthropic, `event: response.completed` / `.incomplete` / `.failed` for OpenAI Responses), and
// clients stop reading there (the openai Python SDK closes without reading the chunked
// terminator). Fed the decoded body as it streams; keeps a few dozen bytes, whatever the size.

/** Event types that end a stream. */
const FINAL_EVENTS = new Set(['message_stop', 'response.completed', 'response.incomplete', 'response.failed']);
/** Bytes of a line kept: enough for `event: response.incomplete` and `data: [DONE]`. */
const LINE_KEEP = 40;

export class SseEnd {
  /** The latest complete event was a final one, and no field line came after it. */
  atFinalEvent = false;
  private line = Buffer.alloc(LINE_KEEP);
  private lineLen = 0; // bytes of the current line (may exceed what is kept)
  private skipLF = false; // the previous line ended with CR: a LF right after belongs to it
  private fields = false; // the current event has field lines
  private event = '';
  private dataLines = 0;
  private dataDone = false; // the current event's only data line is [DONE]
  private tainted = false; // bytes of the current line or event were lost

  push(data: Buffer, from: number, to: number): void {
    for (let p = from; p < to; p++) {
      const b = data[p]!;
      if (this.skipLF) {
        this.skipLF = false;
        if (b === 10) continue;
      }
      if (b === 10 || b === 13) {
        this.skipLF = b === 13;
        this.endLine();
        continue;
      }
      if (this.lineLen < LINE_KEEP) this.line[this.lineLen] = b;
      this.lineLen++;
    }
  }

  /** Body bytes were not captured: the line and the event they were in are unknown. */
  lost(): void {
    this.tainted = true;
    this.fields = true;
    this.atFinalEvent = false;
    this.lineLen = Math.max(this.lineLen, 1); // the line ends at the next line break, unknown
  }

  private endLine(): void {
    const n = this.lineLen;
    this.lineLen = 0;
    if (n === 0) {
      // A blank line dispatches the event (WHATWG HTML, server-sent events).
      if (this.fields) this.atFinalEvent = !this.tainted && (FINAL_EVENTS.has(this.event) || (this.dataLines === 1 && this.dataDone));
      this.fields = false;
      this.tainted = false;
      this.event = '';
      this.dataLines = 0;
      this.dataDone = false;
      return;
    }
    if (this.line[0] === 0x3a /* : comment */ && !this.tainted) return;
    this.fields = true;
    this.atFinalEvent = false;
    if (n > LINE_KEEP) {
      // Too long to be a final marker; only a data line changes what the event is.
      if (this.keptStartsWith('data')) this.dataLines++;
      return;
    }
    const text = this.line.toString('latin1', 0, n);
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') {
      this.dataLines++;
      this.dataDone = value === '[DONE]';
    }
  }

  private keptStartsWith(s: string): boolean {
    for (let i = 0; i < s.length; i++) if (this.line[i] !== s.charCodeAt(i)) return false;
    return this.line[s.length] === 0x3a;
  }
}
