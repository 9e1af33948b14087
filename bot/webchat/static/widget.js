/*
 * HPSM web chat widget.
 *
 * Add it to a page with one tag:
 *   <script src="https://ASSISTANT-HOST/webchat/widget.js"
 *           data-server="https://RASA-HOST" data-lang="en"
 *           data-title="HPSM Help" data-color="#00607a" defer></script>
 *
 * It loads the pinned socket.io client from the same folder as this file and
 * talks to the assistant's socket.io channel. Every piece of message text is
 * inserted with textContent or createTextNode, never as HTML. The only thing
 * kept in the browser is the session id, under localStorage key
 * "hpsm-webchat-session".
 *
 * Each message carries a random message id. A message without a reply when
 * the connection drops stays on screen marked "not sent", with a button to
 * send it again. The server passes a message id to the assistant only once,
 * so a resend never reaches the assistant twice.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || document.querySelector(".hpsm-chat-launcher")) {
    return;
  }

  // The web server replaces this placeholder with Member Services' contacts.
  var CONTACTS = /*SERVER_CONTACTS*/ null;
  var STORAGE_KEY = "hpsm-webchat-session";
  var MAX_MESSAGE_CHARS = 2000;
  var UNREACHABLE_AFTER_MS = 15000;
  var DEFAULT_COLOR = "#00607a";
  var MIN_CONTRAST = 4.5;

  var STRINGS = {
    en: {
      title: "HPSM Help",
      launcher: "Chat with us",
      close: "Close chat",
      startOver: "Start over",
      conversation: "Conversation",
      inputLabel: "Type your message",
      send: "Send",
      you: "You said: ",
      assistant: "Assistant said: ",
      suggestions: "Suggested replies",
      typing: "The assistant is typing…",
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      newConversation: "You started a new conversation.",
      privacy: "HPSM staff who help you can read this conversation.",
      intro:
        "Hi! I can explain Enhanced Care Management and Community Supports, " +
        "check what you may qualify for, and ask someone from HPSM to call you.",
      unreachable: "The chat is not available right now. Call Member Services at ",
      tty: " (TTY ",
      hoursJoin: "), ",
      notConnected: "The chat is not connected yet. Your message was not sent.",
      tooLong: "Your message is too long. Please make it shorter than 2,000 characters.",
      choiceGone: "That choice is no longer offered. Please type your answer.",
      failed: "Sorry, the assistant could not answer. Please try again.",
      rateLimited:
        "You are sending messages faster than the chat accepts. " +
        "Please wait a minute, then send again.",
      notSent: "Not sent.",
      sendAgain: "Send again",
      newTab: " (opens in a new tab)",
      cancel: "Cancel",
      startOverQuestion:
        "Start a new conversation? This one will no longer show on this device.",
      closeQuestion: "Close the chat window?",
      closeKeep: "Close and keep the chat",
      endAndClear: "End chat and clear this device",
      ended: "The chat ended. Nothing of it is kept on this device.",
      changedElsewhere:
        "This chat was ended or started over in another window of this site.",
      expired: "Your earlier chat ended because it was not used for a while. This is a new chat.",
    },
    es: {
      title: "Ayuda de HPSM",
      launcher: "Chatee con nosotros",
      close: "Cerrar el chat",
      startOver: "Empezar de nuevo",
      conversation: "Conversación",
      inputLabel: "Escriba su mensaje",
      send: "Enviar",
      you: "Usted dijo: ",
      assistant: "El asistente dijo: ",
      suggestions: "Respuestas sugeridas",
      typing: "El asistente está escribiendo…",
      connecting: "Conectando…",
      reconnecting: "Reconectando…",
      newConversation: "Empezó una conversación nueva.",
      privacy: "El personal de HPSM que le ayuda puede leer esta conversación.",
      intro:
        "¡Hola! Puedo explicarle la Administración de Atención Mejorada y los " +
        "Apoyos Comunitarios, ver para qué podría calificar y pedir que alguien " +
        "de HPSM le llame.",
      unreachable: "El chat no está disponible ahora. Llame a Servicios para Miembros al ",
      tty: " (TTY ",
      hoursJoin: "), ",
      notConnected: "El chat todavía no está conectado. Su mensaje no se envió.",
      tooLong: "Su mensaje es muy largo. Escriba menos de 2,000 caracteres.",
      choiceGone: "Esa opción ya no está disponible. Por favor, escriba su respuesta.",
      failed: "Lo sentimos, el asistente no pudo responder. Inténtelo de nuevo.",
      rateLimited:
        "Está enviando mensajes más rápido de lo que el chat acepta. " +
        "Espere un minuto y vuelva a enviarlos.",
      notSent: "No se envió.",
      sendAgain: "Enviar de nuevo",
      newTab: " (se abre en una pestaña nueva)",
      cancel: "Cancelar",
      startOverQuestion:
        "¿Empezar una conversación nueva? Esta ya no se verá en este dispositivo.",
      closeQuestion: "¿Cerrar la ventana del chat?",
      closeKeep: "Cerrar y guardar el chat",
      endAndClear: "Terminar el chat y borrarlo de este dispositivo",
      ended: "El chat terminó. No queda nada de él en este dispositivo.",
      changedElsewhere:
        "Este chat se terminó o se empezó de nuevo en otra ventana de este sitio.",
      expired: "Su chat anterior terminó porque no se usó por un tiempo. Este es un chat nuevo.",
    },
  };

  var lang = script.getAttribute("data-lang") === "es" ? "es" : "en";
  var S = STRINGS[lang];
  var widgetBase = new URL(".", script.src).href;
  var serverUrl = script.getAttribute("data-server") || new URL(script.src).origin;
  var title = script.getAttribute("data-title") || S.title;
  var color = accessibleColor(script.getAttribute("data-color"));
  var reducedMotion =
    window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  var state = {
    socket: null,
    loading: false,
    token: readToken(),
    everConnected: false,
    // Whether the server confirmed a session on the current connection.
    // Messages wait for it: the server handles events concurrently, so one
    // sent right after `connect` could arrive before the session is bound.
    bound: false,
    unreachableTimer: null,
    // A notice to show under the next history, once it is rendered.
    noticeAfterHistory: null,
    // Messages sent but not yet answered, by message id, in sending order.
    pending: {},
  };

  // ---- Colour contrast -------------------------------------------------

  function parseHex(value) {
    var match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((value || "").trim());
    if (!match) {
      return null;
    }
    var hex = match[1];
    if (hex.length === 3) {
      hex = hex[0] + hex[0] + hex[1] + hex[1] + hex[2] + hex[2];
    }
    return [0, 2, 4].map(function (i) {
      return parseInt(hex.slice(i, i + 2), 16);
    });
  }

  function luminance(rgb) {
    var linear = rgb.map(function (channel) {
      var c = channel / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
  }

  function contrastWithWhite(rgb) {
    return 1.05 / (luminance(rgb) + 0.05);
  }

  function toHex(rgb) {
    return (
      "#" +
      rgb
        .map(function (c) {
          return ("0" + Math.round(c).toString(16)).slice(-2);
        })
        .join("")
    );
  }

  // White text sits on the brand colour, and the colour is used as text on
  // white, so it must reach 4.5:1 against white. A lighter colour is darkened
  // step by step until it does.
  function accessibleColor(value) {
    var rgb = parseHex(value) || parseHex(DEFAULT_COLOR);
    for (var step = 0; step < 40 && contrastWithWhite(rgb) < MIN_CONTRAST; step++) {
      rgb = rgb.map(function (c) {
        return c * 0.9;
      });
    }
    return toHex(rgb);
  }

  // ---- Storage: the session id only -----------------------------------

  function readToken() {
    try {
      return window.localStorage.getItem(STORAGE_KEY);
    } catch (error) {
      return null;
    }
  }

  function writeToken(token) {
    try {
      if (token) {
        window.localStorage.setItem(STORAGE_KEY, token);
      } else {
        window.localStorage.removeItem(STORAGE_KEY);
      }
    } catch (error) {
      // Storage blocked: the conversation lasts as long as the page.
    }
  }

  // ---- DOM ------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  var uid = "hpsm-chat-" + Math.random().toString(36).slice(2, 8);
  var root = el("div", "hpsm-chat");
  root.setAttribute("lang", lang);
  root.style.setProperty("--hpsm-chat-color", color);

  var launcher = el("button", "hpsm-chat-launcher", S.launcher);
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", uid + "-dialog");

  var dialog = el("section", "hpsm-chat-dialog");
  dialog.id = uid + "-dialog";
  dialog.hidden = true;
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-labelledby", uid + "-title");

  var header = el("div", "hpsm-chat-header");
  var heading = el("h2", "hpsm-chat-title", title);
  heading.id = uid + "-title";
  var startOverButton = el("button", "hpsm-chat-header-button", S.startOver);
  startOverButton.type = "button";
  var closeButton = el("button", "hpsm-chat-header-button hpsm-chat-close");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", S.close);
  var closeMark = el("span", null, "×");
  closeMark.setAttribute("aria-hidden", "true");
  closeButton.appendChild(closeMark);
  header.appendChild(heading);
  header.appendChild(startOverButton);
  header.appendChild(closeButton);

  var privacy = el("p", "hpsm-chat-privacy", S.privacy);

  var status = el("div", "hpsm-chat-status");
  status.setAttribute("role", "status");
  status.hidden = true;
  var statusText = el("p", "hpsm-chat-status-text");
  var unreachable = el("p", "hpsm-chat-unreachable");
  unreachable.hidden = true;
  status.appendChild(statusText);
  status.appendChild(unreachable);

  // An in-widget question with buttons, for "Start over" and closing.
  var confirmBox = el("div", "hpsm-chat-confirm");
  confirmBox.setAttribute("role", "group");
  confirmBox.setAttribute("aria-labelledby", uid + "-confirm-text");
  confirmBox.hidden = true;

  var log = el("div", "hpsm-chat-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", S.conversation);
  log.tabIndex = 0;

  var typing = el("div", "hpsm-chat-typing");
  typing.hidden = true;
  var dots = el("span", "hpsm-chat-dots");
  dots.setAttribute("aria-hidden", "true");
  for (var i = 0; i < 3; i++) {
    dots.appendChild(el("span"));
  }
  typing.appendChild(dots);
  typing.appendChild(el("span", null, S.typing));

  var quickReplies = el("div", "hpsm-chat-quick-replies");
  quickReplies.setAttribute("role", "group");
  quickReplies.setAttribute("aria-label", S.suggestions);
  quickReplies.hidden = true;

  var form = el("form", "hpsm-chat-form");
  form.noValidate = true;
  var label = el("label", "hpsm-chat-label", S.inputLabel);
  label.htmlFor = uid + "-input";
  var input = el("textarea", "hpsm-chat-input");
  input.id = uid + "-input";
  input.rows = 2;
  input.maxLength = MAX_MESSAGE_CHARS;
  input.autocomplete = "off";
  var sendButton = el("button", "hpsm-chat-send", S.send);
  sendButton.type = "submit";
  form.appendChild(label);
  var row = el("div", "hpsm-chat-input-row");
  row.appendChild(input);
  row.appendChild(sendButton);
  form.appendChild(row);

  dialog.appendChild(header);
  dialog.appendChild(confirmBox);
  dialog.appendChild(privacy);
  dialog.appendChild(status);
  dialog.appendChild(log);
  dialog.appendChild(typing);
  dialog.appendChild(quickReplies);
  dialog.appendChild(form);
  root.appendChild(dialog);
  root.appendChild(launcher);

  var stylesheet = document.createElement("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = widgetBase + "widget.css";
  document.head.appendChild(stylesheet);

  function mount() {
    document.body.appendChild(root);
  }
  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }

  // ---- Message text: plain text with safe links -----------------------

  // Web addresses, US phone numbers, the 988 and 911 lines, and hand-off
  // reference codes such as HP-7K2M9Q (shown unbroken, not linked).
  var LINK_PATTERN =
    /(https?:\/\/[^\s<>"']+)|(\b(?:1-)?\d{3}-\d{3}-\d{4}\b)|(\b(?:988|911)\b)|(\bHP-[A-Z0-9]{6}\b)/g;
  var TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

  function linkNode(text, href, external) {
    var link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    if (!external) {
      // A phone number must not wrap at its hyphens.
      link.className = "hpsm-chat-nowrap";
    }
    if (external) {
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.appendChild(el("span", "hpsm-chat-visually-hidden", S.newTab));
    }
    return link;
  }

  function webLink(candidate) {
    try {
      var url = new URL(candidate);
      if (url.protocol === "http:" || url.protocol === "https:") {
        return url.href;
      }
    } catch (error) {
      // Not a valid address: it stays text.
    }
    return null;
  }

  function appendLinkedText(parent, text) {
    var last = 0;
    var match;
    LINK_PATTERN.lastIndex = 0;
    while ((match = LINK_PATTERN.exec(text)) !== null) {
      var found = match[0];
      var node = null;
      if (match[1]) {
        found = found.replace(TRAILING_PUNCTUATION, "");
        var href = webLink(found);
        node = href ? linkNode(found, href, true) : null;
      } else if (match[4]) {
        node = el("span", "hpsm-chat-nowrap", found);
      } else {
        node = linkNode(found, "tel:" + found.replace(/\D/g, ""), false);
      }
      if (!node) {
        continue;
      }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(node);
      last = match.index + found.length;
      LINK_PATTERN.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function scrollToEnd() {
    log.scrollTo({ top: log.scrollHeight, behavior: reducedMotion ? "auto" : "smooth" });
  }

  function appendMessage(role, text) {
    var item = el("div", "hpsm-chat-message hpsm-chat-" + role);
    item.dataset.role = role;
    item.appendChild(
      el("span", "hpsm-chat-visually-hidden", role === "user" ? S.you : S.assistant)
    );
    var body = el("span", "hpsm-chat-text");
    if (role === "user") {
      body.textContent = text;
    } else {
      appendLinkedText(body, text);
    }
    item.appendChild(body);
    log.appendChild(item);
    scrollToEnd();
    return item;
  }

  // With `single`, a notice of the same text already in the log moves to the
  // end instead of being repeated, so a flood of rejected messages shows one.
  function appendNotice(text, single) {
    var notice = null;
    if (single) {
      notice = Array.prototype.find.call(log.querySelectorAll(".hpsm-chat-notice"), function (node) {
        return node.textContent === text;
      });
    }
    log.appendChild(notice || el("p", "hpsm-chat-notice", text));
    scrollToEnd();
  }

  function setQuickReplies(buttons) {
    var hadFocus = quickReplies.contains(document.activeElement);
    quickReplies.textContent = "";
    (buttons || []).forEach(function (button) {
      var choice = el("button", "hpsm-chat-quick-reply", String(button.title || ""));
      choice.type = "button";
      choice.addEventListener("click", function () {
        sendChoice(button);
      });
      quickReplies.appendChild(choice);
    });
    quickReplies.hidden = quickReplies.childNodes.length === 0;
    // Showing or hiding the replies resizes the message list below its end.
    scrollToEnd();
    if (hadFocus && !dialog.hidden) {
      input.focus();
    }
  }

  function showTyping(on) {
    typing.hidden = !on;
    log.setAttribute("aria-busy", on ? "true" : "false");
    if (on) {
      scrollToEnd();
    }
  }

  function renderHistory(messages) {
    log.setAttribute("aria-busy", "true");
    log.textContent = "";
    setQuickReplies([]);
    // The introduction is the widget's own text, shown above every history.
    appendMessage("bot", S.intro);

    var received = {};
    messages.forEach(function (message) {
      appendMessage(message.role === "user" ? "user" : "bot", String(message.text || ""));
      if (message.message_id) {
        received[message.message_id] = true;
      }
    });
    var last = messages[messages.length - 1];
    if (last && last.buttons) {
      setQuickReplies(last.buttons);
    }

    // The server stored these, so the history shows them.
    Object.keys(state.pending).forEach(function (id) {
      if (received[id]) {
        delete state.pending[id];
      }
    });
    // The rest were not received (or not yet stored): they stay on screen,
    // marked "not sent" unless they were sent again on this connection.
    Object.keys(state.pending).forEach(function (id) {
      var entry = state.pending[id];
      log.appendChild(entry.node);
      if (!entry.inFlight) {
        markNotSent(entry);
      }
    });
    if (state.noticeAfterHistory) {
      appendNotice(state.noticeAfterHistory);
      state.noticeAfterHistory = null;
    }
    scrollToEnd();
    log.setAttribute("aria-busy", "false");
  }

  // ---- Connection -----------------------------------------------------

  function updateStatusVisibility() {
    status.hidden = !statusText.textContent && unreachable.hidden;
  }

  // The connection state ("Connecting…", "Reconnecting…"). It never hides the
  // unreachable notice, which stays until the connection is back.
  function setStatus(text) {
    statusText.textContent = text || "";
    statusText.hidden = !text;
    updateStatusVisibility();
  }

  function fillUnreachable() {
    unreachable.appendChild(document.createTextNode(S.unreachable));
    if (!CONTACTS) {
      return;
    }
    var phone = CONTACTS.member_services;
    unreachable.appendChild(linkNode(phone, "tel:" + phone.replace(/\D/g, ""), false));
    unreachable.appendChild(document.createTextNode(S.tty));
    unreachable.appendChild(
      linkNode(CONTACTS.tty, "tel:" + CONTACTS.tty.replace(/\D/g, ""), false)
    );
    var hours = String(CONTACTS.hours[lang] || "");
    // The hours may end with "p.m." already: add no second full stop.
    var end = /[.!?]$/.test(hours) ? "" : ".";
    unreachable.appendChild(document.createTextNode(S.hoursJoin + hours + end));
  }

  function showUnreachable() {
    if (!unreachable.firstChild) {
      fillUnreachable();
    }
    unreachable.hidden = false;
    updateStatusVisibility();
  }

  function startUnreachableTimer() {
    if (state.unreachableTimer === null) {
      state.unreachableTimer = window.setTimeout(showUnreachable, UNREACHABLE_AFTER_MS);
    }
  }

  function connectionRestored() {
    window.clearTimeout(state.unreachableTimer);
    state.unreachableTimer = null;
    unreachable.hidden = true;
    setStatus("");
  }

  function requestSession() {
    state.socket.emit("session_request", {
      session_id: state.token || null,
      language: lang,
    });
  }

  function bindSocket(socket) {
    // A socket dropped by followOtherTab may still deliver events; only the
    // current socket's events change the screen or the stored session.
    function on(name, handler) {
      socket.on(name, function () {
        if (socket === state.socket) {
          handler.apply(null, arguments);
        }
      });
    }
    on("connect", function () {
      state.everConnected = true;
      state.bound = false;
      requestSession();
    });
    on("session_confirm", function (token) {
      state.token = String(token);
      writeToken(state.token);
      if (!state.bound) {
        state.bound = true;
        connectionRestored();
        sendWaitingMessages();
      }
    });
    on("history", function (data) {
      if (data && data.expired === true) {
        state.noticeAfterHistory = S.expired;
      }
      renderHistory((data && data.messages) || []);
    });
    on("user_echo", function (data) {
      appendMessage("user", String((data && data.text) || ""));
      setQuickReplies([]);
    });
    on("bot_typing", function (data) {
      showTyping(Boolean(data && data.typing));
    });
    on("bot_uttered", function (data) {
      if (!data) {
        return;
      }
      if (data.text) {
        appendMessage("bot", String(data.text));
      }
      if (data.buttons && data.buttons.length) {
        setQuickReplies(data.buttons);
      }
    });
    on("chat_error", function (error) {
      var code = (error && error.code) || "";
      var entry = error && error.message_id ? state.pending[error.message_id] : null;
      // Errors that may pass on a later try keep the message to send again.
      var retry =
        code === "session_expired" ||
        code === "no_session" ||
        code === "session_not_bound" ||
        code === "rate_limited" ||
        code === "turn_failed";
      if (entry && retry) {
        markNotSent(entry);
      } else if (entry) {
        delete state.pending[entry.id];
      }
      if (!hasUnanswered()) {
        showTyping(false);
      }
      if (code === "session_expired" || code === "no_session" || code === "session_not_bound") {
        if (code === "session_expired") {
          state.token = null;
          writeToken(null);
        }
        requestSession();
        appendNotice(S.notConnected);
      } else if (code === "rate_limited") {
        appendNotice(S.rateLimited, true);
      } else if (code === "message_too_long") {
        appendNotice(S.tooLong);
      } else if (code === "choice_not_offered") {
        appendNotice(S.choiceGone);
      } else {
        appendNotice(S.failed);
      }
    });
    on("disconnect", function (reason) {
      state.bound = false;
      showTyping(false);
      // Nothing unanswered is lost: it is marked "not sent" until resent.
      Object.keys(state.pending).forEach(function (id) {
        state.pending[id].inFlight = false;
        markNotSent(state.pending[id]);
      });
      setStatus(S.reconnecting);
      startUnreachableTimer();
      if (reason === "io server disconnect") {
        socket.connect();
      }
    });
    on("connect_error", function () {
      if (socket.connected) {
        return;
      }
      setStatus(state.everConnected ? S.reconnecting : S.connecting);
      if (state.everConnected) {
        startUnreachableTimer();
      } else {
        // Never connected: the server is down or rejects this page's origin.
        showUnreachable();
      }
    });
  }

  function connect() {
    if (state.socket || state.loading) {
      return;
    }
    state.loading = true;
    setStatus(S.connecting);
    startUnreachableTimer();
    import(widgetBase + "vendor/socket.io.esm.min.js")
      .then(function (module) {
        state.socket = module.io(serverUrl, {
          transports: ["websocket", "polling"],
          tryAllTransports: true,
          reconnectionDelay: 1000,
          reconnectionDelayMax: 5000,
          timeout: 10000,
        });
        bindSocket(state.socket);
      })
      .catch(function () {
        showUnreachable();
      })
      .then(function () {
        state.loading = false;
      });
  }

  // ---- Sending ----------------------------------------------------------

  function canSend() {
    if (state.socket && state.socket.connected && state.bound && state.token) {
      return true;
    }
    appendNotice(S.notConnected);
    return false;
  }

  function newMessageId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function hasUnanswered() {
    return Object.keys(state.pending).some(function (id) {
      return !state.pending[id].notSent;
    });
  }

  function clearNotSent(entry) {
    entry.notSent = false;
    entry.node.classList.remove("hpsm-chat-not-sent");
    var mark = entry.node.querySelector(".hpsm-chat-resend");
    if (mark) {
      entry.node.removeChild(mark);
    }
  }

  function markNotSent(entry) {
    if (entry.notSent) {
      return;
    }
    entry.notSent = true;
    entry.node.classList.add("hpsm-chat-not-sent");
    var mark = el("span", "hpsm-chat-resend");
    mark.appendChild(el("span", "hpsm-chat-not-sent-label", S.notSent));
    var again = el("button", "hpsm-chat-send-again", S.sendAgain);
    again.type = "button";
    again.addEventListener("click", function () {
      resend(entry);
    });
    mark.appendChild(again);
    entry.node.appendChild(mark);
  }

  // Emit a pending message; the acknowledgement ends its wait.
  function emitMessage(entry) {
    var payload = { session_id: state.token, message_id: entry.id };
    if (entry.choice !== null) {
      payload.choice = entry.choice;
    } else {
      payload.message = entry.text;
    }
    showTyping(true);
    entry.inFlight = true;
    state.socket.emit("user_uttered", payload, function (ack) {
      var status = ack && ack.status;
      entry.inFlight = false;
      if ((status === "answered" || status === "duplicate") && state.pending[entry.id]) {
        clearNotSent(entry);
        delete state.pending[entry.id];
      }
      if (!hasUnanswered()) {
        showTyping(false);
      }
    });
  }

  function resend(entry) {
    if (!state.pending[entry.id]) {
      return;
    }
    var hadFocus = entry.node.contains(document.activeElement);
    clearNotSent(entry);
    if (state.socket && state.socket.connected && state.bound && state.token) {
      emitMessage(entry);
    } else {
      // Still reconnecting: the message goes once the session is confirmed.
      entry.resendWhenBound = true;
      setStatus(state.everConnected ? S.reconnecting : S.connecting);
    }
    if (hadFocus) {
      input.focus();
    }
  }

  function sendWaitingMessages() {
    Object.keys(state.pending).forEach(function (id) {
      var entry = state.pending[id];
      if (entry.resendWhenBound) {
        entry.resendWhenBound = false;
        clearNotSent(entry);
        emitMessage(entry);
      }
    });
  }

  function sendMessage(shown, text, choice) {
    var entry = {
      id: newMessageId(),
      text: text,
      choice: choice,
      node: appendMessage("user", shown),
      notSent: false,
    };
    state.pending[entry.id] = entry;
    setQuickReplies([]);
    emitMessage(entry);
  }

  function sendText(text) {
    if (!text.trim()) {
      return false;
    }
    if (text.length > MAX_MESSAGE_CHARS) {
      appendNotice(S.tooLong);
      return false;
    }
    if (!canSend()) {
      return false;
    }
    setStatus("");
    sendMessage(text, text, null);
    return true;
  }

  function sendChoice(button) {
    if (!canSend()) {
      return;
    }
    sendMessage(String(button.title || ""), null, String(button.id));
    input.focus();
  }

  // ---- Dialog -----------------------------------------------------------

  function openDialog() {
    // "The chat ended" and "You started a new conversation" describe what
    // happened before the window closed, so they go when it opens again.
    if (statusText.textContent === S.ended || statusText.textContent === S.newConversation) {
      setStatus("");
    }
    dialog.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("hpsm-chat-open");
    connect();
    input.focus();
  }

  function hideConfirm() {
    var wasOpen = !confirmBox.hidden;
    confirmBox.hidden = true;
    confirmBox.textContent = "";
    if (wasOpen && confirmBox.returnFocus) {
      confirmBox.returnFocus.focus();
    }
    confirmBox.returnFocus = null;
  }

  // Ask a question inside the dialog. `choices` are [{label, action}]; a
  // Cancel button is added last. Focus moves to the first choice, and Cancel
  // or Escape return it to `opener`.
  function askConfirm(question, choices, opener) {
    hideConfirm();
    var text = el("p", "hpsm-chat-confirm-text", question);
    text.id = uid + "-confirm-text";
    confirmBox.appendChild(text);
    var buttons = el("div", "hpsm-chat-confirm-buttons");
    choices.concat([{ label: S.cancel, action: null }]).forEach(function (choice) {
      var button = el("button", "hpsm-chat-confirm-button", choice.label);
      button.type = "button";
      button.addEventListener("click", function () {
        confirmBox.returnFocus = choice.action ? null : opener;
        hideConfirm();
        if (choice.action) {
          choice.action();
        }
      });
      buttons.appendChild(button);
    });
    confirmBox.appendChild(buttons);
    confirmBox.returnFocus = opener;
    confirmBox.hidden = false;
    buttons.firstChild.focus();
  }

  function closeDialog() {
    hideConfirm();
    dialog.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("hpsm-chat-open");
    launcher.focus();
  }

  // Forget the conversation on this device and bind the socket to a new one.
  // The old conversation stays on the server until the retention purge.
  function forgetConversation() {
    state.token = null;
    writeToken(null);
    state.pending = {};
    log.textContent = "";
    input.value = "";
    setQuickReplies([]);
    showTyping(false);
    if (state.socket && state.socket.connected) {
      requestSession();
    }
  }

  function conversationOf(token) {
    return token ? String(token).split(".")[0] : null;
  }

  // Another tab of this site changed the stored session: it ended the chat,
  // started over, or joined another conversation. This tab drops its socket
  // and what it shows, and joins the stored conversation when its window is
  // open, so a chat ended in one tab is not left readable in another.
  function followOtherTab() {
    var stored = readToken();
    if (conversationOf(stored) === conversationOf(state.token)) {
      // The same conversation with a later expiry.
      state.token = stored;
      return;
    }
    var hadConversation = Boolean(state.token);
    var old = state.socket;
    state.socket = null;
    state.bound = false;
    if (old) {
      old.disconnect();
    }
    state.token = stored;
    state.pending = {};
    log.textContent = "";
    input.value = "";
    hideConfirm();
    setQuickReplies([]);
    showTyping(false);
    if (hadConversation) {
      state.noticeAfterHistory = S.changedElsewhere;
      appendNotice(S.changedElsewhere);
    }
    if (!dialog.hidden) {
      connect();
    }
  }

  function startOver() {
    forgetConversation();
    setStatus(S.newConversation);
    input.focus();
  }

  function endAndClear() {
    forgetConversation();
    setStatus(S.ended);
    closeDialog();
  }

  window.addEventListener("storage", function (event) {
    // A null key means another tab cleared all of this site's storage.
    if (event.key === STORAGE_KEY || event.key === null) {
      followOtherTab();
    }
  });
  launcher.addEventListener("click", function () {
    if (dialog.hidden) {
      openDialog();
    } else {
      closeDialog();
    }
  });
  closeButton.addEventListener("click", function () {
    askConfirm(
      S.closeQuestion,
      [
        { label: S.closeKeep, action: closeDialog },
        { label: S.endAndClear, action: endAndClear },
      ],
      closeButton
    );
  });
  startOverButton.addEventListener("click", function () {
    askConfirm(S.startOverQuestion, [{ label: S.startOver, action: startOver }], startOverButton);
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    event.preventDefault();
    // Escape cancels an open question, else closes the window and keeps the
    // chat.
    if (!confirmBox.hidden) {
      hideConfirm();
    } else {
      closeDialog();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sendText(input.value)) {
      input.value = "";
    }
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter starts a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (sendText(input.value)) {
        input.value = "";
      }
    }
  });
})();
