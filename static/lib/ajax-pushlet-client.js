/*
 * The AJAX Pushlet client: global `PL` and the `p_*` functions. It listens in pull mode: each
 * response ends with a `refresh` event, after whose `p_wait` ms the client asks again.
 * Served with xparse.js and pushlet-common.js in front of it (src/http/static.ts);
 * ajax-pushlet-client-json.js is this file switched to `p_format=json`.
 */
(function (window) {
  'use strict';

  var core = window.PushletCore;
  var STATE = core.STATE;
  var scriptRoot = core.scriptWebRoot();
  var RECONNECT_FIRST_MS = 1000;
  var RECONNECT_MAX_MS = 30000;

  /** Response parsers by `PL.format`. */
  var PARSERS = {
    'xml-strict': function (text) {
      var events = [];
      (function collect(node) {
        for (var i = 0; i < node.contents.length; i++) {
          var child = node.contents[i];
          if (child.type !== 'element') continue;
          if (child.name === 'event') events.push(child.attributes);
          else collect(child);
        }
      })(window.Xparse(text));
      return events;
    },
    json: function (text) {
      return JSON.parse(text);
    }
  };

  var PL = {
    STATE_ERROR: STATE.ERROR,
    STATE_ABORT: STATE.ABORT,
    STATE_NULL: STATE.NULL,
    STATE_READY: STATE.READY,
    STATE_JOINED: STATE.JOINED,
    STATE_LISTENING: STATE.LISTENING,
    pushletURL: null,
    webRoot: null,
    sessionId: null,
    state: STATE.NULL,
    format: 'xml-strict',
    /** Opt-in: after an error, expired session or abort, rejoin with backoff and resubscribe. */
    autoReconnect: false,

    _init: function () {
      if (PL.state !== STATE.NULL) return;
      if (!PL.webRoot) PL.webRoot = scriptRoot || '';
      if (!PL.pushletURL) PL.pushletURL = PL.webRoot + 'pushlet.srv';
      PL.state = STATE.READY;
    },

    join: function (id) {
      wanted = { id: id || null, listening: false, subject: null, subscriptions: {} };
      enqueueJoin();
    },

    joinListen: function (subject, id) {
      wanted = { id: id || null, listening: true, subject: subject || null, subscriptions: {} };
      enqueueJoin();
    },

    listen: function (subject) {
      if (wanted) {
        wanted.listening = true;
        wanted.subject = subject || null;
      }
      queue.add(request('listen', query({ p_mode: 'pull', p_subject: subject }), true, true));
    },

    subscribe: function (subject, label) {
      if (wanted) wanted.subscriptions[subject] = label;
      queue.add(subscription(subject, label));
    },

    unsubscribe: function (sid) {
      if (wanted) forget(sid);
      queue.add(request('unsubscribe', query({ p_sid: sid }), true));
    },

    publish: function (subject, queryString) {
      queue.add(request('publish', concat(query({ p_subject: subject }), queryString), true));
    },

    publish_to_online: function (subject, queryString) {
      queue.add(request('publish_to_online', concat(query({ p_subject: subject }), queryString), true));
    },

    publishJson: function (subject, object) {
      PL.publish(subject, window.objectToQuery(object));
    },

    publishJson_to_online: function (subject, object) {
      PL.publish_to_online(subject, window.objectToQuery(object));
    },

    heartbeat: function () {
      queue.add(request('hb', '', true));
    },

    leave: function () {
      wanted = null;
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      queue.add({
        needsSession: true,
        run: function (done) {
          stopChannel();
          send('leave', '', false, done);
        }
      });
    },

    setDebug: function (on) {
      core.setDebug(on);
    }
  };

  /** What the page asked for (session id, listen, subscriptions), to restore on reconnect. */
  var wanted = null;
  var reconnectDelay = 0;
  var reconnectTimer = null;
  var restoring = false;
  /** The pending listen/refresh request and the timer of the next refresh. */
  var channel = null;
  var refreshTimer = null;

  var queue = new core.RequestQueue(function (req) {
    return PL.state !== STATE.NULL && (!req.needsSession || PL.state >= STATE.JOINED);
  });

  /** `name=value&...` for the fields that are set. */
  function query(fields) {
    var out = {};
    for (var k in fields) if (fields[k] !== undefined && fields[k] !== null) out[k] = fields[k];
    return window.objectToQuery(out);
  }

  function concat(a, b) {
    b = (b || '').replace(/^[?&]+/, '');
    return a && b ? a + '&' + b : a || b;
  }

  function request(event, params, needsSession, isChannel) {
    return {
      needsSession: needsSession,
      run: function (done) {
        if (isChannel) stopChannel();
        send(event, params, isChannel, done);
      }
    };
  }

  function subscription(subject, label) {
    return request('subscribe', query({ p_subject: subject, p_label: label }), true);
  }

  function enqueueJoin() {
    var w = wanted;
    var params = query({ p_format: PL.format, p_mode: w.listening ? 'pull' : undefined, p_subject: w.subject, p_id: w.id });
    queue.add(request(w.listening ? 'join-listen' : 'join', params, false, w.listening), restoring);
  }

  /** Drops an unsubscribed sid (the subject string) from what a reconnect restores. */
  function forget(sid) {
    if (sid === undefined || sid === null) {
      wanted.subscriptions = {};
      wanted.subject = null;
      return;
    }
    delete wanted.subscriptions[sid];
    if (wanted.subject === sid) wanted.subject = null;
  }

  function stopChannel() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    if (channel) {
      channel.cancelled = true;
      channel.abort();
      channel = null;
    }
  }

  /**
   * Sends `p_event=event` (with the session id when there is one) and handles the answer;
   * `done` runs once either way. A listen request (`isChannel`) must end with a refresh.
   */
  function send(event, params, isChannel, done) {
    var xhr = new XMLHttpRequest();
    var url = PL.pushletURL + '?' + concat(concat('p_event=' + event, PL.sessionId && event.indexOf('join') !== 0 ? query({ p_id: PL.sessionId }) : ''), params);
    if (isChannel) channel = xhr;
    core.log('send', url);
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      if (channel === xhr) channel = null;
      if (!xhr.cancelled) receive(xhr, isChannel);
      done();
    };
    xhr.open('GET', url, true);
    xhr.send(null);
  }

  function receive(xhr, isChannel) {
    if (xhr.status !== 200) {
      lost('HTTP ' + xhr.status + (xhr.responseText ? ': ' + xhr.responseText : ''), xhr.status);
      return;
    }
    var list;
    try {
      list = PARSERS[PL.format](xhr.responseText);
    } catch (e) {
      lost('unreadable response: ' + e.message, xhr.status);
      return;
    }
    var refreshed = false;
    for (var i = 0; i < list.length; i++) {
      var e = new window.PushletEvent(list[i]);
      var type = e.getEvent();
      core.track(PL, e);
      if (type === 'join-ack' || type === 'join-listen-ack') rejoined();
      if (type === 'refresh') {
        refreshed = true;
        scheduleRefresh(parseInt(e.get('p_wait'), 10));
      }
      core.dispatch(e);
      if (type === 'abort') {
        stopChannel();
        if (PL.autoReconnect && wanted) scheduleReconnect();
        return;
      }
    }
    if (isChannel && !refreshed) lost('listen channel ended without refresh', xhr.status);
  }

  function scheduleRefresh(wait) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      send('refresh', '', true, function () {});
    }, isFinite(wait) && wait > 0 ? wait : 0);
  }

  /** An HTTP failure: the state becomes STATE_ERROR and the page hears `onError`. */
  function lost(message, status) {
    PL.state = STATE.ERROR;
    stopChannel();
    core.log('error', message);
    core.callback('onError', [message, status]);
    if (PL.autoReconnect && wanted) scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    reconnectDelay = reconnectDelay ? Math.min(reconnectDelay * 2, RECONNECT_MAX_MS) : RECONNECT_FIRST_MS;
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      if (!wanted) return;
      restoring = true;
      enqueueJoin();
    }, reconnectDelay);
  }

  /** A join succeeded: after a reconnect, resubscribe ahead of anything the page queued. */
  function rejoined() {
    reconnectDelay = 0;
    if (!restoring) return;
    restoring = false;
    var subjects = [];
    for (var s in wanted.subscriptions) if (Object.prototype.hasOwnProperty.call(wanted.subscriptions, s)) subjects.push(s);
    for (var i = subjects.length - 1; i >= 0; i--) queue.add(subscription(subjects[i], wanted.subscriptions[subjects[i]]), true);
  }

  function onLoad() {
    PL._init();
  }

  window.PL = PL;
  window.p_join = function (id) {
    PL.join(id);
  };
  window.p_listen = function (subject) {
    PL.listen(subject);
  };
  window.p_join_listen = function (subject, id) {
    PL.joinListen(subject, id);
  };
  window.p_leave = function () {
    PL.leave();
  };
  window.p_heartbeat = function () {
    PL.heartbeat();
  };
  window.p_publish = function (subject) {
    PL.publish(subject, window.objectToQuery(core.pairs(arguments, 1)));
  };
  window.p_publish_to_online = function (subject) {
    PL.publish_to_online(subject, window.objectToQuery(core.pairs(arguments, 1)));
  };
  window.p_subscribe = function (subject, label) {
    PL.subscribe(subject, label);
  };
  window.p_unsubscribe = function (sid) {
    PL.unsubscribe(sid);
  };
  /** Only the JS-streaming client needs a frame; kept so pages written for it still run. */
  window.p_embed = function () {};

  // Runs on load so that the page can still set PL.pushletURL; a page may call _init() earlier.
  if (document.readyState === 'complete') setTimeout(onLoad, 0);
  else window.addEventListener('load', onLoad);
})(window);
