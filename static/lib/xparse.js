/*
 * Xparse(text): a small XML parser for Pushlet responses, kept under the legacy global name
 * because pages (and the Redis-branch client) call it. Returns a root element whose `contents`
 * hold elements { type: 'element', name, attributes, contents } and text
 * { type: 'chardata', value }. Only &amp; &lt; &gt; &quot; &apos; are decoded, and newlines in
 * attribute values are kept (a DOM parser would turn them into spaces).
 */
(function (window) {
  'use strict';

  var ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

  function decode(s) {
    return s.replace(/&(amp|lt|gt|quot|apos);/g, function (m, name) {
      return ENTITIES[name];
    });
  }

  function element(name) {
    return { type: 'element', name: name, attributes: {}, contents: [] };
  }

  function isSpace(c) {
    return c === ' ' || c === '\n' || c === '\r' || c === '\t';
  }

  function fail(what, at) {
    throw new Error('Xparse: ' + what + ' at ' + at);
  }

  /** Index just past `marker` found from `from`; fails when it is missing. */
  function after(text, marker, from) {
    var i = text.indexOf(marker, from);
    if (i < 0) fail('missing ' + marker, from);
    return i + marker.length;
  }

  /** Reads a start tag at `at` (the '<'); returns { el, empty, end }. */
  function startTag(text, at) {
    var i = at + 1;
    var n = text.length;
    while (i < n && !isSpace(text.charAt(i)) && text.charAt(i) !== '>' && text.charAt(i) !== '/') i++;
    var el = element(text.slice(at + 1, i));
    if (!el.name) fail('missing tag name', at);
    for (;;) {
      while (i < n && isSpace(text.charAt(i))) i++;
      if (i >= n) fail('unclosed tag', at);
      if (text.charAt(i) === '>') return { el: el, empty: false, end: i + 1 };
      if (text.charAt(i) === '/') {
        if (text.charAt(i + 1) !== '>') fail('stray /', i);
        return { el: el, empty: true, end: i + 2 };
      }
      var nameStart = i;
      while (i < n && !isSpace(text.charAt(i)) && '=/>'.indexOf(text.charAt(i)) < 0) i++;
      var name = text.slice(nameStart, i);
      while (i < n && isSpace(text.charAt(i))) i++;
      if (text.charAt(i) !== '=') fail('attribute without value', i);
      i++;
      while (i < n && isSpace(text.charAt(i))) i++;
      var quote = text.charAt(i);
      if (quote !== '"' && quote !== "'") fail('unquoted attribute', i);
      var close = text.indexOf(quote, i + 1);
      if (close < 0) fail('unclosed attribute', i);
      // defineProperty, so that an attribute named __proto__ is an attribute like any other.
      Object.defineProperty(el.attributes, name, { value: decode(text.slice(i + 1, close)), writable: true, enumerable: true, configurable: true });
      i = close + 1;
    }
  }

  window.Xparse = function (text) {
    var root = element('ROOT');
    var open = [root];
    var i = 0;
    var n = text.length;
    while (i < n) {
      var top = open[open.length - 1];
      var lt = text.indexOf('<', i);
      if (lt < 0) lt = n;
      if (lt > i) top.contents.push({ type: 'chardata', value: decode(text.slice(i, lt)) });
      if (lt >= n) break;
      if (text.substr(lt, 9) === '<![CDATA[') {
        i = after(text, ']]>', lt);
        top.contents.push({ type: 'chardata', value: text.slice(lt + 9, i - 3) });
      } else if (text.substr(lt, 4) === '<!--') {
        i = after(text, '-->', lt);
      } else if (text.charAt(lt + 1) === '?' || text.charAt(lt + 1) === '!') {
        i = after(text, '>', lt);
      } else if (text.charAt(lt + 1) === '/') {
        i = after(text, '>', lt);
        var name = text.slice(lt + 2, i - 1).replace(/\s+$/, '');
        if (open.length < 2 || top.name !== name) fail('unexpected </' + name + '>', lt);
        open.pop();
      } else {
        var tag = startTag(text, lt);
        top.contents.push(tag.el);
        if (!tag.empty) open.push(tag.el);
        i = tag.end;
      }
    }
    if (open.length > 1) fail('unclosed <' + open[open.length - 1].name + '>', n);
    return root;
  };
})(window);
