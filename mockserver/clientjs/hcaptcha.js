// siteverify mock of hCaptcha's client script (https://js.hcaptcha.com/1/api.js).
// It is served by the mock at /1/api.js, and by the browser package in place
// of the real URL, so the page under test runs unchanged with no network.
//
// Surface (wire-facts §5.2): hcaptcha.render, execute, getResponse,
// getRespKey, reset, remove, setData, close.
//   - render(container, params) -> widget id (a string such as
//     "0t37epmk3c0d"); container is an element or its id. Unknown params are
//     kept and ignored.
//   - execute(id[, {async: true}]): without async the result goes to
//     callback; with it, a promise of {response, key}, rejected with an
//     hCaptcha error code. execute() and execute({async: true}) use the first
//     widget.
//   - getResponse, getRespKey, reset with or without a widget id (the first
//     widget); remove(id).
//   - ?render=explicit, ?onload=fn, ?hl=, ?recaptchacompat=off; implicit
//     rendering of .h-captcha[data-sitekey] with data-sitekey, data-size,
//     data-theme, data-tabindex, data-callback, data-expired-callback,
//     data-chalexpired-callback, data-open-callback, data-close-callback,
//     data-error-callback; the hidden h-captcha-response textarea and its
//     g-recaptcha-response twin (not with recaptchacompat=off), named as the
//     real widget names them; window.grecaptcha pointing at hcaptcha when the
//     page has none (recaptchacompat, as the real script does).
//
// Differences from the real widget, on purpose:
//   - The widget is plain DOM in the page, not a cross-origin iframe: a test
//     clicks ".hcaptcha-checkbox". There is no challenge: a click (or
//     execute) solves it.
//   - Tokens come from the mock's mint endpoint (same origin as this script,
//     /1/mint): real mock tokens of the sitekey's site, or hCaptcha's fixed
//     test tokens for its test sitekeys.
//   - Expiry: the widget's own timer runs from the mint answer; a test that
//     advances the mock's clock calls window.__siteverify.expire(mockNowMs).
//     Either way the response is cleared, the box unchecks and
//     expired-callback runs, as with the real widget.
//   - window.__siteverify is a test hook the real script does not have.
(function (cfg) {
  "use strict";
  var w = window, d = document;
  var PROVIDER = "hcaptcha";
  var PREFIX = "[siteverify mock hCaptcha] ";

  // --- configuration: the script's own URL wins over what the server saw ---
  var params = {render: cfg.render || "", onload: cfg.onload || "", hl: cfg.hl || "", recaptchacompat: cfg.recaptchacompat || ""};
  var origin = cfg.origin || "https://js.hcaptcha.com";
  var me = d.currentScript;
  if (me && me.src) {
    try {
      var u = new URL(me.src, location.href);
      origin = u.origin;
      ["render", "onload", "hl", "recaptchacompat"].forEach(function (k) {
        if (u.searchParams.has(k)) { params[k] = u.searchParams.get(k); }
      });
    } catch (e) { /* keep the server's view */ }
  }
  var mintURL = origin + (cfg.mintPath || "/1/mint");
  var compat = params.recaptchacompat !== "off" && params.recaptchacompat !== "false";

  // --- state ---
  var widgets = {};      // id -> widget
  var order = [];        // ids in creation order
  var queued = 0;        // callbacks scheduled but not yet run
  var loaded = false;
  var byElement = new WeakMap();

  var kit = siteverifyKit({prefix: PREFIX, title: "hCaptcha", provider: PROVIDER, mintURL: mintURL, jsonpPrefix: "hc"});
  var events = kit.events, note = kit.note, report = kit.report, lookup = kit.lookup, callBack = kit.callBack,
    randomID = kit.randomID, MintError = kit.MintError;

  function later(fn) {
    queued++;
    setTimeout(function () { queued--; fn(); }, 0);
  }


  // --- tokens ---
  function mintBody(wdg) {
    var body = new URLSearchParams();
    body.set("sitekey", wdg.sitekey);
    body.set("kind", wdg.invisible ? "invisible" : "checkbox");
    body.set("hostname", location.hostname);
    body.set("page", location.pathname);
    body.set("widget", wdg.id);
    return body;
  }

  function mint(wdg) { return kit.mint(function () { return mintBody(wdg); }); }

  // errorCode maps a mint failure to hCaptcha's client error codes
  // ("network-error", "invalid-data", ...).
  function errorCode(err) {
    return err.code === "network" ? "network-error" : "invalid-data";
  }

  // --- widgets ---
  function textarea(name, id) {
    var ta = d.createElement("textarea");
    ta.id = name + "-" + id;
    ta.name = name;
    ta.setAttribute("style", "display: none;");
    return ta;
  }

  function setChecked(wdg, on, busy) {
    if (!wdg.checkbox) { return; }
    var box = wdg.checkbox;
    box.setAttribute("aria-checked", on ? "true" : "false");
    box.className = "hcaptcha-checkbox" + (on ? " checked" : "") + (busy ? " loading" : "");
    box.textContent = on ? "\u2714" : "";
    box.style.borderStyle = busy ? "dashed" : "solid";
  }

  function clearTimer(wdg) {
    if (wdg.timer) { clearTimeout(wdg.timer); wdg.timer = null; }
  }

  function setResponse(wdg, token, key, expiresAt, expiresIn) {
    clearTimer(wdg);
    wdg.response = token;
    wdg.key = key;
    wdg.expiresAt = expiresAt || 0;
    wdg.textareas.forEach(function (ta) { ta.value = token; });
    wdg.wrap.setAttribute("data-hcaptcha-response", token);
    setChecked(wdg, token !== "");
    if (token && expiresIn > 0) {
      wdg.timer = setTimeout(function () { expire(wdg); }, expiresIn);
    }
  }

  function clearResponse(wdg) { setResponse(wdg, "", "", 0, 0); }

  function expire(wdg) {
    if (!wdg.response) { return false; }
    clearResponse(wdg);
    var had = callBack(wdg, "expired-callback");
    note("expired", wdg.id, {callback: had});
    return true;
  }

  // solve runs the "challenge": mint, fill the textareas, call callback.
  function solve(wdg) {
    if (wdg.solving) { return wdg.solving; }
    note("solve", wdg.id);
    setChecked(wdg, false, true);
    wdg.solving = mint(wdg).then(function (ans) {
      wdg.solving = null;
      if (!widgets[wdg.id]) { throw MintError("the widget was removed", "challenge-closed"); }
      setResponse(wdg, ans.token, "E0_" + randomID(24), ans.expires_at_ms, ans.expires_in_ms);
      callBack(wdg, "callback", ans.token);
      return {response: ans.token, key: wdg.key};
    }, function (err) {
      wdg.solving = null;
      var code = err.code === "challenge-closed" ? err.code : errorCode(err);
      console.error(PREFIX + err.message);
      setChecked(wdg, false);
      note("error", wdg.id, err.code);
      if (!callBack(wdg, "error-callback", code)) { /* the real widget only shows it */ }
      throw code;
    });
    return wdg.solving;
  }

  function elementOf(container) {
    var el = typeof container === "string" ? d.getElementById(container) : container;
    if (!el || el.nodeType !== 1) {
      throw new Error("[hCaptcha] render: invalid container '" + String(container) + "'");
    }
    return el;
  }

  var PARAM_NAMES = ["sitekey", "theme", "size", "tabindex", "callback", "expired-callback", "chalexpired-callback",
    "open-callback", "close-callback", "error-callback", "hl"];

  function dataParams(el) {
    var p = {};
    PARAM_NAMES.forEach(function (name) {
      var v = el.getAttribute("data-" + name);
      if (v !== null) { p[name] = v; }
    });
    return p;
  }

  function render(container, p) {
    var el = elementOf(container);
    var old = byElement.get(el);
    if (old !== undefined && widgets[old]) {
      console.warn(PREFIX + "a widget is already rendered in this container: " + old);
      return old;
    }
    var copy = {};
    if (p && typeof p === "object") {
      for (var k in p) { if (Object.prototype.hasOwnProperty.call(p, k)) { copy[k] = p[k]; } }
    }
    if (!copy.sitekey) {
      throw new Error("Missing sitekey - https://docs.hcaptcha.com/configuration#javascript-api");
    }
    var id = randomID(12);
    while (widgets[id]) { id = randomID(12); }
    var wdg = {id: id, el: el, sitekey: String(copy.sitekey), params: copy, invisible: copy.size === "invisible",
      response: "", key: "", expiresAt: 0, timer: null, solving: null, data: null};
    var wrap = d.createElement("div");
    wrap.className = "h-captcha-mock";
    wrap.setAttribute("data-hcaptcha-widget-id", id);
    wrap.setAttribute("data-hcaptcha-response", "");
    wdg.wrap = wrap;
    if (!wdg.invisible) {
      var box = d.createElement("div");
      box.className = "hcaptcha-checkbox";
      box.setAttribute("role", "checkbox");
      box.setAttribute("aria-checked", "false");
      box.setAttribute("tabindex", String(copy.tabindex || 0));
      box.setAttribute("style", "display:inline-block;width:28px;height:28px;border:1px solid #bfbfbf;border-radius:4px;cursor:pointer;vertical-align:middle;background:#fafafa;color:#00838f;text-align:center;font-size:22px;line-height:28px");
      var label = d.createElement("label");
      label.textContent = " I am human";
      label.setAttribute("style", "vertical-align:middle;font-family:sans-serif;font-size:14px");
      wrap.setAttribute("style", "width: 303px; height: 78px; border: 1px solid #e0e0e0; background: #fafafa; box-sizing: border-box; padding: 24px 16px;");
      wrap.appendChild(box);
      wrap.appendChild(label);
      wdg.checkbox = box;
      var onActivate = function (ev) {
        if (ev) { ev.preventDefault(); }
        if (wdg.response) { return; }
        callBack(wdg, "open-callback");
        solve(wdg).then(function () { callBack(wdg, "close-callback"); }, function () {});
      };
      box.addEventListener("click", onActivate);
      label.addEventListener("click", onActivate);
      box.addEventListener("keydown", function (ev) {
        if (ev.key === " " || ev.key === "Enter") { onActivate(ev); }
      });
    }
    wdg.textareas = [];
    if (compat) { wdg.textareas.push(textarea("g-recaptcha-response", id)); }
    wdg.textareas.push(textarea("h-captcha-response", id));
    wdg.textareas.forEach(function (ta) { wrap.appendChild(ta); });
    el.appendChild(wrap);
    byElement.set(el, id);
    widgets[id] = wdg;
    order.push(id);
    note("render", id, {sitekey: wdg.sitekey, kind: wdg.invisible ? "invisible" : "checkbox"});
    return id;
  }

  function widget(id, method) {
    if (id === undefined || id === null || id === "") {
      if (order.length === 0) { throw new Error("[hCaptcha] " + method + ": no hCaptcha exists."); }
      return widgets[order[0]];
    }
    var wdg = widgets[id];
    if (!wdg) { throw new Error("[hCaptcha] invalid hCaptcha id: " + id + " (" + method + ")"); }
    return wdg;
  }

  // --- the public API ---
  function execute(id, opts) {
    if (id !== null && typeof id === "object") { opts = id; id = undefined; }
    var async = !!(opts && opts.async);
    var wdg;
    try {
      wdg = widget(id, "execute");
    } catch (e) {
      if (async) { return Promise.reject("invalid-captcha-id"); }
      throw e;
    }
    note("execute", wdg.id, {async: async});
    callBack(wdg, "open-callback");
    var p = solve(wdg).then(function (r) { callBack(wdg, "close-callback"); return r; });
    if (async) { return p; }
    p.catch(function () { /* reported through error-callback */ });
    return undefined;
  }

  function getResponse(id) { return widget(id, "getResponse").response || ""; }

  function getRespKey(id) { return widget(id, "getRespKey").key || ""; }

  function reset(id) {
    var wdg = widget(id, "reset");
    clearResponse(wdg);
    note("reset", wdg.id);
  }

  function remove(id) {
    var wdg = widget(id, "remove");
    clearTimer(wdg);
    if (wdg.wrap.parentNode) { wdg.wrap.parentNode.removeChild(wdg.wrap); }
    byElement.delete(wdg.el);
    delete widgets[wdg.id];
    order = order.filter(function (x) { return x !== wdg.id; });
    note("remove", wdg.id);
  }

  function setData(id, data) { widget(id, "setData").data = data; }

  function close(id) { widget(id, "close"); }

  var api = {render: render, execute: execute, getResponse: getResponse, getRespKey: getRespKey,
    reset: reset, remove: remove, setData: setData, close: close};
  var hc = w.hcaptcha;
  if (!hc || typeof hc !== "object") { hc = {}; }
  Object.keys(api).forEach(function (k) { hc[k] = api[k]; });
  w.hcaptcha = hc;
  // recaptchacompat (on by default): hCaptcha answers as grecaptcha when the
  // page has no reCAPTCHA of its own.
  if (compat && w.grecaptcha === undefined) { w.grecaptcha = hc; }

  // --- the test hook ---
  var hook = {
    provider: PROVIDER,
    version: cfg.version || "",
    mintURL: mintURL,
    hl: params.hl,
    surface: {methods: Object.keys(api), params: PARAM_NAMES.slice()},
    idle: function () { return loaded && kit.pending === 0 && queued === 0; },
    loaded: function () { return loaded; },
    widgets: function () {
      return order.map(function (id) {
        var x = widgets[id];
        return {id: id, provider: PROVIDER, sitekey: x.sitekey, kind: x.invisible ? "invisible" : "checkbox", response: x.response,
          expiresAt: x.expiresAt, checked: !!(x.checkbox && x.checkbox.getAttribute("aria-checked") === "true"),
          callbacks: {callback: !!x.params.callback, expired: !!x.params["expired-callback"], error: !!x.params["error-callback"]}};
      });
    },
    events: function () { return events.slice(); },
    // expire(mockNowMs): see siteverifyKit.expireWidgets (common.js).
    expire: function (mockNowMs) { return kit.expireWidgets(order, widgets, expire, mockNowMs); },
    expireAll: function () { return hook.expire(); }
  };
  kit.publish(hook);

  // --- loading ---
  function init() {
    if (params.render !== "explicit") {
      var els = d.querySelectorAll(".h-captcha");
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (byElement.has(el)) { continue; }
        if (!el.getAttribute("data-sitekey")) {
          console.error(PREFIX + "Missing sitekey (on a .h-captcha element)");
          continue;
        }
        try { render(el, dataParams(el)); } catch (e) { console.error(PREFIX + e.message); }
      }
    }
    loaded = true;
    if (params.onload) {
      var fn = lookup(params.onload);
      if (fn) {
        later(function () { try { fn(); } catch (e) { report(e); } });
      } else {
        console.error(PREFIX + "onload callback " + JSON.stringify(params.onload) + " is not a function");
      }
    }
  }

  if (d.readyState === "loading") {
    d.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})(/*SITEVERIFY_CONFIG*/{});
