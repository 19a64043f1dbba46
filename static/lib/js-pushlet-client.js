/*
 * The JS-streaming Pushlet client (`p_format=js`). `p_embed()` adds a hidden frame with
 * js-pushlet-net.html; inside it, hidden frames load the protocol: one for the listen channel
 * and one per command. The server answers with pages of `parent.push(name, value, ...)`
 * calls, which the net frame hands to `PushletJS.push`, and from there to the page's
 * callbacks. In pull mode the listen frame reloads itself through the server's refresh script.
 * Served with pushlet-common.js in front of it (src/http/static.ts).
 */
(function (window, document) {
  'use strict';

  var core = window.PushletCore;
  var STATE = core.STATE;
  var scriptRoot = core.scriptWebRoot();
  var NET_PAGE = 'lib/js-pushlet-net.html';
  /** Events that arrive on the listen channel; every other event answers a command. */
  var CHANNEL_EVENTS = { 'join-listen-ack': 1, 'listen-ack': 1, 'refresh-ack': 1, data: 1, hb: 1, abort: 1 };

  var client = {
    webRoot: null,
    sessionId: null,
    state: STATE.NULL,
    /** The net frame's window, once it has loaded. */
    net: null,

    /** Called by js-pushlet-net.html when it has loaded. */
    netReady: function (netWindow) {
      client.net = netWindow;
      if (client.state === STATE.NULL) client.state = STATE.READY;
    },

    /** Called by js-pushlet-net.html with the arguments of a `parent.push(...)` call. */
    push: function (args) {
      var fields = {};
      for (var i = 0; i + 1 < args.length; i += 2) fields[args[i]] = args[i + 1];
      var e = new window.PushletEvent(fields);
      var onChannel = CHANNEL_EVENTS[e.getEvent()] === 1;
      if (onChannel) listening.heard = true;
      else commanding.heard = true;
      core.track(client, e);
      if (onChannel && listening.done) {
        // The listen request is answered; a stream never finishes loading, so free the queue now.
        var done = listening.done;
        listening.done = null;
        setTimeout(done, 0);
      }
      core.dispatch(e);
    }
  };

  /** The listen frame, whether an event came since it last loaded, and the queue's `done`. */
  var listening = { frame: null, heard: false, done: null };
  var commanding = { heard: false };

  var queue = new core.RequestQueue(function (req) {
    return client.state !== STATE.NULL && (!req.needsSession || client.state >= STATE.JOINED);
  });

  function protocolURL(event, fields) {
    var all = {};
    for (var k in fields) if (fields[k] !== undefined && fields[k] !== null) all[k] = fields[k];
    if (client.sessionId && event.indexOf('join') !== 0) all.p_id = client.sessionId;
    var rest = window.objectToQuery(all);
    return client.webRoot + 'pushlet.srv?p_event=' + event + (rest ? '&' + rest : '');
  }

  /** A hidden frame inside the net frame, whose `push` the protocol pages call as `parent.push`. */
  function openFrame(src, onload) {
    var doc = client.net.document;
    var frame = doc.createElement('iframe');
    frame.style.display = 'none';
    frame.onload = function () {
      onload(frame);
    };
    frame.src = src;
    doc.body.appendChild(frame);
    return frame;
  }

  /** The text of a page that made no `push` call: the server's error message. */
  function frameText(frame) {
    try {
      var body = frame.contentWindow.document.body;
      return body ? body.textContent : '';
    } catch (e) {
      return '';
    }
  }

  /** The server's refresh script leaves `url` set when the frame is to reload itself. */
  function willRefresh(frame) {
    try {
      var url = frame.contentWindow.url;
      return typeof url === 'string' && /\S/.test(url);
    } catch (e) {
      return false;
    }
  }

  function removeFrame(frame) {
    if (frame.parentNode) frame.parentNode.removeChild(frame);
  }

  function lost(message) {
    client.state = STATE.ERROR;
    core.log('error', message);
    core.callback('onError', [message]);
  }

  function stopListen() {
    if (listening.frame) removeFrame(listening.frame);
    listening.frame = null;
  }

  function command(event, fields, needsSession) {
    queue.add({
      needsSession: needsSession,
      run: function (done) {
        commanding.heard = false;
        openFrame(protocolURL(event, fields), function (frame) {
          var heard = commanding.heard;
          var text = heard ? '' : frameText(frame);
          removeFrame(frame);
          if (!heard) lost(text || 'no answer to ' + event);
          done();
        });
      }
    });
  }

  function listen(event, fields, needsSession) {
    queue.add({
      needsSession: needsSession,
      run: function (done) {
        stopListen();
        listening.heard = false;
        listening.done = done;
        listening.frame = openFrame(protocolURL(event, fields), function (frame) {
          var heard = listening.heard;
          listening.heard = false;
          if (!heard || !willRefresh(frame)) {
            // A stream or an error page ended: unless the server aborted the session, it is lost.
            var text = heard ? 'listen channel ended' : frameText(frame);
            stopListen();
            if (client.state !== STATE.ABORT) lost(text || 'listen failed');
          }
          if (listening.done) {
            listening.done = null;
            done();
          }
        });
      }
    });
  }

  function escapeAttr(s) {
    return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  }

  /** Adds the net frame; written inline while the page is parsed, appended afterwards. */
  function embed(webRoot) {
    var root = core.absolute(webRoot || scriptRoot || './');
    client.webRoot = /\/$/.test(root) ? root : root + '/';
    var src = client.webRoot + NET_PAGE;
    if (document.readyState === 'loading') {
      document.write('<iframe name="pushlet-net" src="' + escapeAttr(src) + '" style="display:none"></iframe>');
      return;
    }
    var frame = document.createElement('iframe');
    frame.name = 'pushlet-net';
    frame.style.display = 'none';
    frame.src = src;
    document.body.appendChild(frame);
  }

  /** Pages that forgot p_embed() still work: the frame is added on first use. */
  function embedded() {
    if (!client.webRoot) embed();
  }

  window.PushletJS = client;
  window.p_embed = embed;
  window.p_join = function (id) {
    embedded();
    command('join', { p_format: 'js', p_id: id }, false);
  };
  window.p_listen = function (subject, mode) {
    embedded();
    listen('listen', { p_subject: subject, p_mode: mode }, true);
  };
  window.p_join_listen = function (subject, mode) {
    embedded();
    listen('join-listen', { p_format: 'js', p_subject: subject, p_mode: mode }, false);
  };
  window.p_leave = function () {
    embedded();
    queue.add({
      needsSession: true,
      run: function (done) {
        stopListen();
        done();
      }
    });
    command('leave', {}, true);
  };
  window.p_heartbeat = function () {
    embedded();
    command('hb', {}, true);
  };
  window.p_publish = function (subject) {
    embedded();
    var fields = core.pairs(arguments, 1);
    fields.p_subject = subject;
    command('publish', fields, true);
  };
  window.p_subscribe = function (subject, label) {
    embedded();
    command('subscribe', { p_subject: subject, p_label: label }, true);
  };
  window.p_unsubscribe = function (sid) {
    embedded();
    command('unsubscribe', { p_sid: sid }, true);
  };
  window.p_getWebRoot = function () {
    return client.webRoot;
  };
  window.p_getSessionId = function () {
    return client.sessionId;
  };
  window.p_setDebug = function (on) {
    core.setDebug(on);
  };
})(window, document);
