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
      newTab: " (opens in a new tab)",
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
      newTab: " (se abre en una pestaña nueva)",
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
    unreachableTimer: null,
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

  // Web addresses, US phone numbers, and the 988 and 911 lines.
  var LINK_PATTERN =
    /(https?:\/\/[^\s<>"']+)|(\b(?:1-)?\d{3}-\d{3}-\d{4}\b)|(\b(?:988|911)\b)/g;
  var TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

  function linkNode(text, href, external) {
    var link = document.createElement("a");
    link.href = href;
    link.textContent = text;
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
  }

  function appendNotice(text) {
    log.appendChild(el("p", "hpsm-chat-notice", text));
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
    messages.forEach(function (message) {
      appendMessage(message.role === "user" ? "user" : "bot", String(message.text || ""));
    });
    var last = messages[messages.length - 1];
    if (last && last.buttons) {
      setQuickReplies(last.buttons);
    }
    log.setAttribute("aria-busy", "false");
  }

  // ---- Connection -----------------------------------------------------

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function showUnreachable() {
    status.textContent = "";
    status.hidden = false;
    var notice = el("p", "hpsm-chat-unreachable");
    notice.appendChild(document.createTextNode(S.unreachable));
    if (CONTACTS) {
      var phone = CONTACTS.member_services;
      notice.appendChild(linkNode(phone, "tel:" + phone.replace(/\D/g, ""), false));
      notice.appendChild(document.createTextNode(S.tty));
      notice.appendChild(linkNode(CONTACTS.tty, "tel:" + CONTACTS.tty.replace(/\D/g, ""), false));
      notice.appendChild(document.createTextNode(S.hoursJoin + CONTACTS.hours[lang] + "."));
    }
    status.appendChild(notice);
  }

  function startUnreachableTimer() {
    if (state.unreachableTimer === null) {
      state.unreachableTimer = window.setTimeout(showUnreachable, UNREACHABLE_AFTER_MS);
    }
  }

  function connectionRestored() {
    window.clearTimeout(state.unreachableTimer);
    state.unreachableTimer = null;
    setStatus("");
  }

  function requestSession() {
    state.socket.emit("session_request", { session_id: state.token || null });
  }

  function bindSocket(socket) {
    socket.on("connect", function () {
      state.everConnected = true;
      connectionRestored();
      requestSession();
    });
    socket.on("session_confirm", function (token) {
      state.token = String(token);
      writeToken(state.token);
    });
    socket.on("history", function (data) {
      renderHistory((data && data.messages) || []);
    });
    socket.on("user_echo", function (data) {
      appendMessage("user", String((data && data.text) || ""));
      setQuickReplies([]);
    });
    socket.on("bot_typing", function (data) {
      showTyping(Boolean(data && data.typing));
    });
    socket.on("bot_uttered", function (data) {
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
    socket.on("chat_error", function (error) {
      var code = (error && error.code) || "";
      showTyping(false);
      if (code === "session_expired" || code === "no_session" || code === "session_not_bound") {
        if (code === "session_expired") {
          state.token = null;
          writeToken(null);
        }
        requestSession();
        appendNotice(S.notConnected);
      } else if (code === "message_too_long") {
        appendNotice(S.tooLong);
      } else if (code === "choice_not_offered") {
        appendNotice(S.choiceGone);
      } else {
        appendNotice(S.failed);
      }
    });
    socket.on("disconnect", function (reason) {
      showTyping(false);
      setStatus(S.reconnecting);
      startUnreachableTimer();
      if (reason === "io server disconnect") {
        socket.connect();
      }
    });
    socket.on("connect_error", function () {
      if (!socket.connected) {
        setStatus(state.everConnected ? S.reconnecting : S.connecting);
        startUnreachableTimer();
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
    if (state.socket && state.socket.connected && state.token) {
      return true;
    }
    appendNotice(S.notConnected);
    return false;
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
    appendMessage("user", text);
    setQuickReplies([]);
    showTyping(true);
    state.socket.emit("user_uttered", { session_id: state.token, message: text });
    return true;
  }

  function sendChoice(button) {
    if (!canSend()) {
      return;
    }
    appendMessage("user", String(button.title || ""));
    setQuickReplies([]);
    showTyping(true);
    state.socket.emit("user_uttered", { session_id: state.token, choice: String(button.id) });
    input.focus();
  }

  // ---- Dialog -----------------------------------------------------------

  function openDialog() {
    dialog.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("hpsm-chat-open");
    connect();
    input.focus();
  }

  function closeDialog() {
    dialog.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("hpsm-chat-open");
    launcher.focus();
  }

  function startOver() {
    state.token = null;
    writeToken(null);
    log.textContent = "";
    setQuickReplies([]);
    showTyping(false);
    if (state.socket && state.socket.connected) {
      requestSession();
    }
    setStatus(S.newConversation);
    input.focus();
  }

  launcher.addEventListener("click", function () {
    if (dialog.hidden) {
      openDialog();
    } else {
      closeDialog();
    }
  });
  closeButton.addEventListener("click", closeDialog);
  startOverButton.addEventListener("click", startOver);
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
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
