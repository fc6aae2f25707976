// 融e联 live: the chat pages over the gateway's WebSocket (/api/v1/chat/ws).
//
// The socket is authenticated by the page's own session cookie (the gateway checks
// that the Origin is this site). Pushed events are hints: on each, the page fetches
// the new entries as HTML from the server (one renderer for pages and live updates),
// and after every reconnect it catches up from the last entry it shows. Without
// this script every part of the page still works as a plain form.
(function () {
  "use strict";

  var root = document.querySelector("[data-live-as]");
  if (!root) return;
  var staff = root.getAttribute("data-live-as") === "staff";
  var chat = document.getElementById("chat");
  var conversationId = chat ? Number(chat.getAttribute("data-conversation")) : null;
  var list = document.getElementById("messages");
  var form = document.getElementById("send-form");
  var typingLine = document.getElementById("typing");
  var connection = document.getElementById("chat-connection");
  var socket = null;
  var backoff = 1000;
  var frameId = 0;
  var pending = {};
  var lastTypingSent = 0;
  var typingTimer = null;
  var lastReadSent = 0;
  var fetching = false;
  var fetchAgain = false;

  function lastSeq() {
    return list ? Number(list.getAttribute("data-last-seq")) || 0 : 0;
  }

  function newClientId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function send(frame, onAnswer) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    frame.id = String(++frameId);
    if (onAnswer) pending[frame.id] = onAnswer;
    socket.send(JSON.stringify(frame));
    return true;
  }

  // -- the entries -----------------------------------------------------------------

  function label(state) {
    return chat.getAttribute("data-label-" + state) || state;
  }

  function relabel() {
    var read = Number(list.getAttribute("data-read")) || 0;
    var delivered = Number(list.getAttribute("data-delivered")) || 0;
    list.querySelectorAll("li.mine").forEach(function (li) {
      var receipt = li.querySelector(".receipt");
      if (!receipt) return;
      var seq = Number(li.getAttribute("data-seq"));
      var state = seq <= read ? "read" : seq <= delivered ? "delivered" : "sent";
      if (receipt.getAttribute("data-receipt") !== state) {
        receipt.setAttribute("data-receipt", state);
        receipt.textContent = label(state);
      }
    });
  }

  function raise(attribute, value) {
    if (value > (Number(list.getAttribute(attribute)) || 0)) list.setAttribute(attribute, value);
  }

  function markRead() {
    var seq = lastSeq();
    if (!list || seq <= lastReadSent) return;
    if (document.visibilityState !== "visible") {
      send({ type: "receipt", conversation_id: conversationId, delivered_seq: seq });
    } else if (send({ type: "receipt", conversation_id: conversationId, read_seq: seq })) {
      lastReadSent = seq;
    }
  }

  async function fetchNew() {
    if (!list) return;
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = true;
    try {
      do {
        fetchAgain = false;
        var url = chat.getAttribute("data-fragment") + "?after_seq=" + lastSeq();
        var answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (!answer.ok) return;
        var html = new DOMParser().parseFromString(await answer.text(), "text/html");
        var fresh = html.querySelector("ol.messages");
        if (!fresh) return;
        var added = null;
        Array.prototype.slice.call(fresh.children).forEach(function (li) {
          var old = document.getElementById(li.id);
          if (old) {
            old.replaceWith(li);
          } else {
            list.appendChild(li);
            added = li;
          }
        });
        if (Number(fresh.getAttribute("data-last-seq")) > lastSeq()) {
          list.setAttribute("data-last-seq", fresh.getAttribute("data-last-seq"));
        }
        raise("data-read", Number(fresh.getAttribute("data-read")) || 0);
        raise("data-delivered", Number(fresh.getAttribute("data-delivered")) || 0);
        relabel();
        if (added) added.scrollIntoView({ block: "end" });
      } while (fetchAgain);
    } catch (error) {
      // The next event or reconnect fetches again.
    } finally {
      fetching = false;
    }
    markRead();
  }

  // -- lists (the customer's conversations, the manager's desk) ------------------------

  var refreshing = false;
  async function refresh() {
    var url = root.getAttribute("data-refresh");
    var target = document.getElementById(root.getAttribute("data-refresh-target"));
    if (!url || !target || refreshing) return;
    refreshing = true;
    try {
      var answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) return;
      var html = new DOMParser().parseFromString(await answer.text(), "text/html");
      var fresh = html.getElementById(target.id);
      if (fresh) target.replaceWith(fresh);
    } catch (error) {
      // Shown again on the next event.
    } finally {
      refreshing = false;
    }
  }

  // -- events ------------------------------------------------------------------------

  function onEvent(event) {
    if (event.type === "ack" || event.type === "error") {
      var answer = pending[event.id];
      delete pending[event.id];
      if (answer) answer(event);
      return;
    }
    if (event.type === "message") {
      var message = event.message;
      if (message.conversation_id === conversationId) {
        if (typingLine) typingLine.hidden = true;
        fetchNew();
      } else {
        // This device has it: delivered (one's own messages are read already, and
        // the server moves receipts only forward, so that costs nothing).
        send({
          type: "receipt",
          conversation_id: message.conversation_id,
          delivered_seq: message.seq,
        });
        refresh();
      }
    } else if (event.type === "receipt" && event.conversation_id === conversationId && list) {
      raise("data-read", event.read_seq);
      raise("data-delivered", event.delivered_seq);
      relabel();
    } else if (event.type === "typing" && event.conversation_id === conversationId && typingLine) {
      typingLine.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () {
        typingLine.hidden = true;
      }, 4000);
    } else if (event.type === "presence") {
      var key = event.member.kind + ":" + event.member.id;
      document.querySelectorAll('[data-presence="' + key + '"]').forEach(function (person) {
        person.setAttribute("data-online", event.online ? "true" : "false");
        var text = person.querySelector(".presence");
        if (text && chat) text.textContent = chat.getAttribute(event.online ? "data-label-online" : "data-label-offline");
      });
    } else if (event.type === "accepted" && event.conversation_id === conversationId) {
      location.reload(); // a request accepted: the other's name and presence show now
    } else if (event.type === "assigned" || event.type === "queue" || event.type === "request" ||
               event.type === "accepted") {
      refresh();
    }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/api/v1/chat/ws" + (staff ? "?as=staff" : ""));
    socket.onopen = function () {
      backoff = 1000;
      if (connection) {
        connection.setAttribute("data-connected", "true");
        connection.hidden = true;
      }
      fetchNew();
    };
    socket.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      onEvent(event);
    };
    socket.onclose = function (closed) {
      socket = null;
      if (connection) {
        connection.setAttribute("data-connected", "false");
        connection.hidden = false;
      }
      Object.keys(pending).forEach(function (id) {
        var answer = pending[id];
        delete pending[id];
        answer({ type: "error", id: id, error: { code: "disconnected" } });
      });
      if (closed.code === 4401 || closed.code === 4403) return; // logged out: stay quiet
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  // -- the send box ------------------------------------------------------------------

  function showMasked(kinds) {
    var warning = document.getElementById("masked-warning");
    if (!warning) return;
    warning.querySelectorAll(".masked-kind").forEach(function (span) {
      span.hidden = kinds.indexOf(span.getAttribute("data-kind")) < 0;
    });
    warning.hidden = kinds.length === 0;
  }

  if (form) {
    var box = form.querySelector("textarea[name=text]");
    var clientId = form.querySelector("input[name=client_id]");
    form.addEventListener("submit", function (submitted) {
      var text = box.value.trim();
      if (!text) return;
      var sent = send(
        { type: "send", conversation_id: conversationId, client_id: clientId.value, text: text },
        function (answer) {
          if (answer.type === "error") {
            // The page explains the refusal in the customer's language; the same
            // client id makes sure nothing is sent twice.
            form.submit();
            return;
          }
          box.value = "";
          clientId.value = newClientId();
          lastTypingSent = 0; // the next keystroke starts a new message
          showMasked(answer.warnings || []);
          fetchNew();
        }
      );
      if (sent) submitted.preventDefault();
    });
    box.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTypingSent > 3000) {
        lastTypingSent = now;
        send({ type: "typing", conversation_id: conversationId });
      }
    });
    box.addEventListener("keydown", function (key) {
      if (key.key === "Enter" && !key.shiftKey && !key.isComposing) {
        key.preventDefault();
        form.requestSubmit();
      }
    });
  }

  // Canned replies: a click puts the text in the box to be edited before sending.
  document.querySelectorAll(".canned-buttons button[data-body]").forEach(function (button) {
    button.addEventListener("click", function (clicked) {
      if (!form) return;
      clicked.preventDefault();
      var box = form.querySelector("textarea[name=text]");
      box.value = button.getAttribute("data-body");
      box.focus();
    });
  });

  document.addEventListener("visibilitychange", markRead);
  if (list) {
    var last = list.lastElementChild;
    if (last && !location.hash) last.scrollIntoView({ block: "end" });
  }
  connect();
})();
