/*
 * What the bundled Pushlet clients share: PushletEvent, the query helpers, the callbacks on
 * `window`, the request queue and the session state. The server serves this file in front of
 * each client (src/http/static.ts), so a page still includes a single script.
 */
(function (window, document) {
  'use strict';

  var STATE = { ERROR: -2, ABORT: -1, NULL: 1, READY: 2, JOINED: 3, LISTENING: 3 };
  var RETRY_MS = 100;
  var debug = false;

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return '&#' + c.charCodeAt(0) + ';';
    });
  }

  /** One Pushlet event: a flat map of string fields. */
  function PushletEvent(fields) {
    this.arr = {};
    for (var k in fields) if (has(fields, k)) this.put(k, fields[k]);
  }
  PushletEvent.prototype.get = function (name) {
    return has(this.arr, name) ? this.arr[name] : null;
  };
  PushletEvent.prototype.put = function (name, value) {
    // defineProperty, so that a field named __proto__ is a field like any other.
    Object.defineProperty(this.arr, name, { value: String(value), writable: true, enumerable: true, configurable: true });
  };
  PushletEvent.prototype.getSubject = function () {
    return this.get('p_subject');
  };
  PushletEvent.prototype.getEvent = function () {
    return this.get('p_event');
  };
  PushletEvent.prototype.toString = function () {
    var out = [];
    for (var k in this.arr) if (has(this.arr, k)) out.push(k + '=' + this.arr[k]);
    return out.join('\n');
  };
  PushletEvent.prototype.toTable = function () {
    var rows = '';
    for (var k in this.arr) {
      if (has(this.arr, k)) rows += '<tr><td>' + escapeHtml(k) + '</td><td>' + escapeHtml(this.arr[k]) + '</td></tr>';
    }
    return '<table border="1" cellpadding="2" cellspacing="0">' + rows + '</table>';
  };

  function objectToQuery(obj) {
    var out = [];
    for (var k in obj) if (has(obj, k)) out.push(encodeURIComponent(k) + '=' + encodeURIComponent(obj[k]));
    return out.join('&');
  }

  function queryToObject(query) {
    var obj = {};
    var parts = String(query || '').replace(/^[?&]/, '').split('&');
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) continue;
      var eq = parts[i].indexOf('=');
      var name = eq < 0 ? parts[i] : parts[i].slice(0, eq);
      var value = eq < 0 ? '' : parts[i].slice(eq + 1);
      obj[decodeURIComponent(name.replace(/\+/g, ' '))] = decodeURIComponent(value.replace(/\+/g, ' '));
    }
    return obj;
  }

  /** The fields of `name1, value1, name2, value2...` from `args[from]` on (first value wins). */
  function pairs(args, from) {
    var fields = {};
    for (var i = from; i + 1 < args.length; i += 2) if (!has(fields, args[i])) fields[args[i]] = args[i + 1];
    return fields;
  }

  var CALLBACKS = {
    data: 'onData',
    'join-ack': 'onJoinAck',
    'join-listen-ack': 'onJoinListenAck',
    'listen-ack': 'onListenAck',
    hb: 'onHeartbeat',
    'hb-ack': 'onHeartbeatAck',
    refresh: 'onRefresh',
    'refresh-ack': 'onRefreshAck',
    'subscribe-ack': 'onSubscribeAck',
    'unsubscribe-ack': 'onUnsubscribeAck',
    'publish-ack': 'onPublishAck',
    'leave-ack': 'onLeaveAck',
    abort: 'onAbort'
  };

  /**
   * Calls the page's `window[name]` if it is a function. A throwing callback must not break
   * the client, so its error is rethrown asynchronously (it still reaches the console).
   */
  function callback(name, args) {
    var fn = window[name];
    if (typeof fn !== 'function') return false;
    try {
      fn.apply(window, args);
    } catch (e) {
      setTimeout(function () {
        throw e;
      }, 0);
    }
    return true;
  }

  /** Hands an event to its callback, or to `onEvent` when the page has none for it. */
  function dispatch(event) {
    var type = event.getEvent() || '';
    var name = has(CALLBACKS, type) ? CALLBACKS[type] : /nack$/.test(type) ? 'onNack' : null;
    log('event', type, event.arr);
    if (!(name && callback(name, [event]))) callback('onEvent', [event]);
  }

  /** Updates a client's `state` and `sessionId` from an event the server sent. */
  function track(client, event) {
    switch (event.getEvent()) {
      case 'join-ack':
      case 'join-listen-ack':
        client.sessionId = event.get('p_id');
        client.state = STATE.JOINED;
        break;
      case 'listen-ack':
        client.state = STATE.LISTENING;
        break;
      case 'leave-ack':
        client.sessionId = null;
        client.state = STATE.READY;
        break;
      case 'abort':
        client.state = STATE.ABORT;
        break;
    }
  }

  /** The folder a script URL sits in above its `lib/` or `js/` folder, e.g. `http://h/pushlet/`. */
  function webRootOf(src) {
    var m = /^(.*\/)(?:lib|js)\/[^\/?#]*(?:[?#].*)?$/.exec(src || '');
    return m ? m[1] : null;
  }

  /** The web root of the client script being run now; call it while the script loads. */
  function scriptWebRoot() {
    if (document.currentScript && document.currentScript.src) return webRootOf(document.currentScript.src);
    var scripts = document.getElementsByTagName('script');
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/pushlet-client[^\/]*\.js/.test(scripts[i].src)) return webRootOf(scripts[i].src);
    }
    return null;
  }

  /** An absolute URL for `url` relative to the page. */
  function absolute(url) {
    var a = document.createElement('a');
    a.href = url;
    return a.href;
  }

  /**
   * Requests in call order, one at a time. The head waits, re-checked every 100 ms, until
   * `ready(request)` holds; `request.run(done)` sends it and calls `done` when answered.
   */
  function RequestQueue(ready) {
    this.ready = ready;
    this.items = [];
    this.busy = false;
    this.timer = null;
  }
  RequestQueue.prototype.add = function (request, first) {
    if (first) this.items.unshift(request);
    else this.items.push(request);
    this.pump();
  };
  RequestQueue.prototype.clear = function () {
    this.items = [];
  };
  RequestQueue.prototype.pump = function () {
    var self = this;
    if (this.busy || this.timer || this.items.length === 0) return;
    if (!this.ready(this.items[0])) {
      this.timer = setTimeout(function () {
        self.timer = null;
        self.pump();
      }, RETRY_MS);
      return;
    }
    this.busy = true;
    this.items.shift().run(function () {
      self.busy = false;
      self.pump();
    });
  };

  function log() {
    if (debug && window.console) window.console.log.apply(window.console, ['[pushlet]'].concat([].slice.call(arguments)));
  }

  window.PushletEvent = PushletEvent;
  window.objectToQuery = objectToQuery;
  window.queryToObject = queryToObject;
  window.PushletCore = {
    STATE: STATE,
    absolute: absolute,
    callback: callback,
    dispatch: dispatch,
    log: log,
    pairs: pairs,
    RequestQueue: RequestQueue,
    scriptWebRoot: scriptWebRoot,
    setDebug: function (on) {
      debug = !!on;
    },
    track: track
  };
})(window, document);
