/**
 * Server-Sent Events, both directions: the parser the cloud client reads provider streams with,
 * and the writer the OpenAI fetch adapter answers `stream: true` with. Web-platform only.
 */

/**
 * Incremental Server-Sent Events parser: text in (any split), the `data` of each complete event
 * out. Comments (": keep-alive") and other fields (event, id, retry) are ignored; lines end in
 * \n, \r\n or \r, also when \r and \n arrive in different pieces.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  /** The previous piece ended in \r, so a leading \n belongs to that line break. */
  #pendingCR = false;

  push(text: string): string[] {
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCR = false;
    this.#buffer += text;
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.#line(this.#buffer.slice(start, i), out);
      if (c === '\r') {
        if (i + 1 === this.#buffer.length) this.#pendingCR = true;
        else if (this.#buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** At the end of the body: an event without its closing blank line still counts (lenient). */
  end(): string[] {
    const out: string[] = [];
    if (this.#buffer !== '') this.#line(this.#buffer, out);
    this.#buffer = '';
    this.#line('', out);
    return out;
  }

  #line(line: string, out: string[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push(this.#data.join('\n'));
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
  }
}

/** One SSE event carrying `data` (JSON text or "[DONE]"), with its closing blank line. */
export function sseEvent(data: string): string {
  return (
    data
      .split(/\r\n|\r|\n/)
      .map((line) => `data: ${line}`)
      .join('\n') + '\n\n'
  );
}
