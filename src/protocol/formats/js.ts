import { E, F } from '../constants';
import { escaper, fieldsText, fieldStyle, type FormatSpec, type FormatWriter } from './writer';

/**
 * Escapes a value for a JavaScript string literal inside an HTML `<script>`.
 * DIFF 9: Java inserted values raw, so a quote broke the page and `</script>` injected markup.
 */
export const escapeJsString = escaper(/[\\"'<>&\u0000-\u001f\u2028\u2029\u007f]/g, (c) => {
  switch (c) {
    case '\\': return '\\\\';
    case '"': return '\\"';
    case "'": return "\\'";
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    default: {
      const code = c.charCodeAt(0);
      return code < 0x100 ? '\\x' + code.toString(16).padStart(2, '0') : '\\u' + code.toString(16);
    }
  }
});

const PUSH_ARGS = fieldStyle((k, v) => `'${escapeJsString(k)}', "${escapeJsString(v)}"`, ',');

const PAGE_HEAD =
  '<html><head><meta http-equiv="Pragma" content="no-cache">' +
  '<meta http-equiv="Expires" content="Tue, 31 Dec 1997 23:59:59 GMT"></head><body>\n' +
  '<script language="JavaScript"> var url=" "; \nfunction refresh() { document.location.href=url; }</script>';

/** Keeps no state between events: one writer serves every response. */
const WRITER: FormatWriter = {
  begin: () => PAGE_HEAD,
  event(e, own) {
    if (e[F.EVENT] === E.REFRESH) {
      const wait = Number.parseInt(e[F.WAIT] ?? '', 10);
      return (
        `\n<script language="JavaScript">url='${escapeJsString(e[F.URL] ?? '')}';\n` +
        ` setTimeout("refresh()", ${Number.isFinite(wait) ? wait : 0});\n</script></body></html>`
      );
    }
    return `<script language="JavaScript">parent.push(${fieldsText(e, own, PUSH_ARGS)});</script>`;
  },
  end: () => '',
};

/**
 * The `js` format: an HTML page for a (hidden) frame, one `parent.push(...)` call per event. A
 * `refresh` event is not pushed: it makes the frame reload itself after `p_wait` ms, and ends
 * the page.
 */
export const js: FormatSpec = {
  contentType: (charset) => `text/html;charset=${charset}`,
  create: () => WRITER,
};
