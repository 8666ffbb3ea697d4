import http, { type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Requests Node's HTTP parser refuses before Express sees them — a header block over Node's limit
 * (`http.maxHeaderSize`, 16 KiB by default), a malformed request line or header — are answered in
 * the API's error shape (`{"error": {"code", "message"}}`) instead of Node's bare status line, and
 * the connection is closed: after a parse error nothing more on it can be trusted.
 */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A reset or half-closed connection has nobody to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] = refusal(err.code);
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

function refusal(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'HEADERS_TOO_LARGE', `The request's headers exceed ${http.maxHeaderSize} bytes`];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'CLIENT_TIMEOUT', 'The request was not received in time'];
    default:
      return [400, 'MALFORMED_REQUEST', 'The request is not valid HTTP/1.1'];
  }
}
