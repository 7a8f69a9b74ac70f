// siteverify mock of Cloudflare Turnstile's client script
// (https://challenges.cloudflare.com/turnstile/v0/api.js). It is served by
// the mock at /turnstile/v0/api.js, and by the browser package in place of
// the real URL, so the page under test runs unchanged with no network.
//
// Surface (wire-facts §5.3): turnstile.ready, render, execute, reset,
// remove, getResponse, isExpired.
//   - render(container, params) -> widget id ("cf-chl-widget-xxxxx");
//     container is an element or a CSS selector ("#id"). Params: sitekey,
//     action, cData, callback, error-callback, expired-callback,
//     timeout-callback, before-interactive-callback,
//     after-interactive-callback, unsupported-callback, theme, size,
//     language, tabindex, execution (render | execute), appearance (always |
//     execute | interaction-only), retry, retry-interval, refresh-expired
//     (auto | manual | never), refresh-timeout, response-field,
//     response-field-name, feedback-enabled; unknown params are kept and
//     ignored, as the real script tolerates them.
//   - action (at most 32) and cData (at most 255) take A-Za-z0-9_- only;
//     other values make render throw, as the real script refuses them.
//   - execute(container | id[, params]) runs a widget rendered with
//     execution: "execute", rendering it first if the container has none.
//   - getResponse, isExpired, reset with or without a widget id (the first
//     widget); remove(id).
//   - ?render=explicit, ?onload=fn; implicit rendering of
//     .cf-turnstile[data-sitekey] with the data-* twins of the params
//     (data-sitekey, data-action, data-cdata, data-callback,
//     data-expired-callback, data-error-callback, ...); the hidden
//     cf-turnstile-response input (response-field-name renames it,
//     response-field: false drops it).
//   - Test sitekeys: 1x00000000000000000000AA, 1x00000000000000000000BB and
//     3x00000000000000000000FF emit XXXX.DUMMY.TOKEN.XXXX (3x...FF only
//     after a click on its interactive checkbox); 2x00000000000000000000AB
//     and 2x00000000000000000000BB always fail: no token, error-callback
//     with code 600010.
//
// Differences from the real widget, on purpose:
//   - The widget is plain DOM in the page, not a cross-origin iframe; it
//     solves at once (no challenge) unless the sitekey forces an interactive
//     one, which a click on ".cf-turnstile-checkbox" solves.
//   - Tokens come from the mock's mint endpoint (same origin as this script,
//     /turnstile/v0/mint), which binds the widget's action and cData into
//     the token, so siteverify answers them.
//   - Expiry: the widget's own timer runs from the mint answer; a test that
//     advances the mock's clock calls window.__siteverify.expire(mockNowMs).
//     Either way the response is cleared, isExpired turns true,
//     expired-callback gets the expired token and, with refresh-expired
//     "auto" (the default), the widget fetches a new token (callback again).
//   - Failures are not retried (retry is read and ignored).
//   - window.__siteverify is a test hook the real script does not have.
(function (cfg) {
  "use strict";
  var w = window, d = document;
  var PROVIDER = "turnstile";
  var PREFIX = "[siteverify mock Turnstile] ";
  var INTERACTIVE_KEYS = {"3x00000000000000000000FF": true};
  var DATA_RE = /^[A-Za-z0-9_-]*$/;

  // --- configuration: the script's own URL wins over what the server saw ---
  var params = {render: cfg.render || "", onload: cfg.onload || "", compat: cfg.compat || ""};
  var origin = cfg.origin || "https://challenges.cloudflare.com";
  var me = d.currentScript;
  if (me && me.src) {
    try {
      var u = new URL(me.src, location.href);
      origin = u.origin;
      ["render", "onload", "compat"].forEach(function (k) {
        if (u.searchParams.has(k)) { params[k] = u.searchParams.get(k); }
      });
    } catch (e) { /* keep the server's view */ }
  }
  var mintURL = origin + (cfg.mintPath || "/turnstile/v0/mint");
  if (params.compat) {
    console.warn(PREFIX + "compat=" + params.compat + " is not emulated: the turnstile API is served as usual");
  }

  // --- state ---
  var widgets = {};      // id -> widget
  var order = [];        // ids in creation order
  var queued = 0;        // callbacks scheduled but not yet run
  var loaded = false;
  var readyQueue = [];
  var byElement = new WeakMap();

  var kit = siteverifyKit({prefix: PREFIX, title: "Turnstile", provider: PROVIDER, mintURL: mintURL, jsonpPrefix: "ts"});
  var events = kit.events, note = kit.note, report = kit.report, lookup = kit.lookup, callBack = kit.callBack,
    randomID = kit.randomID, MintError = kit.MintError;

  function later(fn) {
    queued++;
    setTimeout(function () { queued--; fn(); }, 0);
  }


  function flag(v, def) {
    if (v === undefined || v === null || v === "") { return def; }
    return !(v === false || v === "false");
  }

  // --- tokens ---
  function mintBody(wdg) {
    var body = new URLSearchParams();
    body.set("sitekey", wdg.sitekey);
    body.set("kind", wdg.invisible ? "invisible" : "managed");
    if (wdg.action) { body.set("action", wdg.action); }
    if (wdg.cdata) { body.set("cdata", wdg.cdata); }
    body.set("hostname", location.hostname);
    body.set("page", location.pathname);
    body.set("widget", wdg.id);
    return body;
  }

  function mint(wdg) { return kit.mint(function () { return mintBody(wdg); }); }

  // errorCode maps a mint failure to Turnstile's client error codes: 600010
  // for a failed challenge (the "always fails" test sitekeys), 110100 for an
  // unknown sitekey, 200500 when the service cannot be reached.
  function errorCode(err) {
    switch (err.code) {
    case "test-key-fails": return "600010";
    case "invalid-sitekey": case "missing-sitekey": return "110100";
    case "network": return "200500";
    }
    return "106010";
  }

  // --- widgets ---
  var SIZES = {normal: "width: 300px; height: 65px;", compact: "width: 150px; height: 140px;", flexible: "min-width: 300px; width: 100%; height: 65px;"};

  function setStatus(wdg, text) { wdg.status.textContent = text; }

  // show applies appearance: "always" shows the widget, "execute" from the
  // first execute on, "interaction-only" only while it asks for a click.
  function show(wdg) {
    var a = wdg.params.appearance || "always";
    var visible = a === "always" || (a === "execute" && wdg.executed) || (a === "interaction-only" && wdg.interactive && !wdg.response);
    wdg.wrap.style.display = visible ? "" : "none";
  }

  function clearTimer(wdg) {
    if (wdg.timer) { clearTimeout(wdg.timer); wdg.timer = null; }
  }

  function setResponse(wdg, token, expiresAt, expiresIn) {
    clearTimer(wdg);
    wdg.response = token;
    wdg.expiresAt = expiresAt || 0;
    if (wdg.input) { wdg.input.value = token; }
    if (token && expiresIn > 0) {
      wdg.timer = setTimeout(function () { expire(wdg); }, expiresIn);
    }
  }

  function expire(wdg) {
    if (!wdg.response) { return false; }
    var old = wdg.response;
    setResponse(wdg, "", 0, 0);
    wdg.expired = true;
    setStatus(wdg, "Expired");
    var had = callBack(wdg, "expired-callback", old);
    note("expired", wdg.id, {callback: had});
    var refresh = wdg.params["refresh-expired"] || "auto";
    if (refresh === "auto") {
      run(wdg);
    } else if (refresh === "manual") {
      setStatus(wdg, "Expired: click to refresh");
    }
    return true;
  }

  function fail(wdg, err) {
    var code = errorCode(err);
    console.error(PREFIX + err.message + " (error " + code + ")");
    setStatus(wdg, "Error " + code);
    note("error", wdg.id, code);
    if (!callBack(wdg, "error-callback", code)) {
      // Without an error-callback the real script throws.
      report(new Error("[Cloudflare Turnstile] Error: " + code + "."));
    }
  }

  // run starts the widget's challenge: at once, or after a click for a
  // sitekey that forces an interactive challenge.
  function run(wdg) {
    if (wdg.solving || !widgets[wdg.id]) { return; }
    if (wdg.interactive) {
      wdg.waitingClick = true;
      wdg.checkbox.style.display = "inline-block";
      setStatus(wdg, "Verify you are human");
      show(wdg);
      callBack(wdg, "before-interactive-callback");
      return;
    }
    solve(wdg);
  }

  function solve(wdg) {
    note("solve", wdg.id);
    setStatus(wdg, "Verifying...");
    wdg.solving = mint(wdg).then(function (ans) {
      wdg.solving = null;
      if (!widgets[wdg.id]) { return; }
      wdg.expired = false;
      setResponse(wdg, ans.token, ans.expires_at_ms, ans.expires_in_ms);
      setStatus(wdg, "Success!");
      show(wdg);
      callBack(wdg, "callback", ans.token);
    }, function (err) {
      wdg.solving = null;
      if (!widgets[wdg.id]) { return; }
      fail(wdg, err);
    });
  }

  function elementOf(container) {
    var el = container;
    if (typeof container === "string") {
      el = null;
      try { el = d.querySelector(container); } catch (e) { /* not a selector */ }
      if (!el) { el = d.getElementById(container.replace(/^#/, "")); }
    }
    if (!el || el.nodeType !== 1) {
      throw new Error("[Cloudflare Turnstile] Unable to find a container for " + JSON.stringify(String(container)) + ".");
    }
    return el;
  }

  var PARAM_NAMES = ["sitekey", "action", "cData", "callback", "error-callback", "expired-callback", "timeout-callback",
    "before-interactive-callback", "after-interactive-callback", "unsupported-callback", "theme", "size", "language",
    "tabindex", "execution", "appearance", "retry", "retry-interval", "refresh-expired", "refresh-timeout",
    "response-field", "response-field-name", "feedback-enabled"];

  function dataParams(el) {
    var p = {};
    PARAM_NAMES.forEach(function (name) {
      var v = el.getAttribute("data-" + name.toLowerCase());
      if (v !== null) { p[name] = v; }
    });
    return p;
  }

  function render(container, p) {
    var el = elementOf(container);
    var old = byElement.get(el);
    if (old !== undefined && widgets[old]) {
      console.warn(PREFIX + "Turnstile has already been rendered in this container: " + old);
      return old;
    }
    var copy = {};
    if (p && typeof p === "object") {
      for (var k in p) { if (Object.prototype.hasOwnProperty.call(p, k)) { copy[k] = p[k]; } }
    }
    if (copy.cdata !== undefined && copy.cData === undefined) { copy.cData = copy.cdata; }
    if (typeof copy.sitekey !== "string" || copy.sitekey === "") {
      throw new Error("[Cloudflare Turnstile] Invalid or missing type for parameter \"sitekey\", expected \"string\", got \"" + typeof copy.sitekey + "\".");
    }
    var action = copy.action == null ? "" : String(copy.action);
    var cdata = copy.cData == null ? "" : String(copy.cData);
    if (action.length > 32 || !DATA_RE.test(action)) {
      throw new Error("[Cloudflare Turnstile] Invalid input for optional parameter \"action\", got \"" + action + "\".");
    }
    if (cdata.length > 255 || !DATA_RE.test(cdata)) {
      throw new Error("[Cloudflare Turnstile] Invalid input for optional parameter \"cData\", got \"" + cdata + "\".");
    }
    var id = "cf-chl-widget-" + randomID(5);
    while (widgets[id]) { id = "cf-chl-widget-" + randomID(5); }
    var size = copy.size || "normal";
    var wdg = {id: id, el: el, sitekey: copy.sitekey, params: copy, action: action, cdata: cdata,
      invisible: copy.sitekey === "1x00000000000000000000BB" || copy.sitekey === "2x00000000000000000000BB",
      interactive: !!INTERACTIVE_KEYS[copy.sitekey], response: "", expiresAt: 0, expired: false,
      timer: null, solving: null, executed: false};
    var wrap = d.createElement("div");
    wrap.id = id;
    wrap.className = "cf-turnstile-mock";
    wrap.setAttribute("data-sitekey", wdg.sitekey);
    wrap.setAttribute("style", (wdg.invisible ? "width: 0; height: 0; overflow: hidden;" : (SIZES[size] || SIZES.normal)) +
      " border: 1px solid #e0e0e0; background: #fafafa; box-sizing: border-box; padding: 8px; font-family: sans-serif; font-size: 14px;");
    var box = d.createElement("span");
    box.className = "cf-turnstile-checkbox";
    box.setAttribute("role", "checkbox");
    box.setAttribute("tabindex", String(copy.tabindex || 0));
    box.setAttribute("style", "display:none;width:24px;height:24px;border:2px solid #666;border-radius:3px;cursor:pointer;vertical-align:middle;margin-right:8px");
    var status = d.createElement("span");
    status.className = "cf-turnstile-status";
    wrap.appendChild(box);
    wrap.appendChild(status);
    wdg.wrap = wrap;
    wdg.checkbox = box;
    wdg.status = status;
    var onActivate = function (ev) {
      if (ev) { ev.preventDefault(); }
      if (wdg.waitingClick) {
        wdg.waitingClick = false;
        box.textContent = "\u2714";
        callBack(wdg, "after-interactive-callback");
        solve(wdg);
      } else if (wdg.expired && !wdg.solving && (wdg.params["refresh-expired"] || "auto") === "manual") {
        run(wdg);
      }
    };
    box.addEventListener("click", onActivate);
    status.addEventListener("click", onActivate);
    if (flag(copy["response-field"], true)) {
      var input = d.createElement("input");
      input.type = "hidden";
      input.name = copy["response-field-name"] || "cf-turnstile-response";
      input.id = id + "_response";
      input.value = "";
      wrap.appendChild(input);
      wdg.input = input;
    }
    el.appendChild(wrap);
    byElement.set(el, id);
    widgets[id] = wdg;
    order.push(id);
    note("render", id, {sitekey: wdg.sitekey, kind: wdg.invisible ? "invisible" : "managed", action: action, cdata: cdata});
    show(wdg);
    if ((copy.execution || "render") === "render") {
      wdg.executed = true;
      run(wdg);
    }
    return id;
  }

  // find resolves a widget id, a widget's container or a selector; nothing
  // means the first widget.
  function find(ref) {
    if (ref === undefined || ref === null || ref === "") { return order.length ? widgets[order[0]] : null; }
    if (typeof ref === "string" && widgets[ref]) { return widgets[ref]; }
    var el = null;
    try { el = elementOf(ref); } catch (e) { return null; }
    var id = byElement.get(el);
    return id !== undefined && widgets[id] ? widgets[id] : null;
  }

  function widget(ref, method) {
    var wdg = find(ref);
    if (!wdg) {
      console.warn(PREFIX + method + ": no Turnstile widget for " + JSON.stringify(ref === undefined ? null : ref));
    }
    return wdg;
  }

  // --- the public API ---
  function execute(ref, p) {
    var wdg = find(ref);
    if (!wdg) {
      // The real execute renders into a container that has no widget yet.
      var copy = {};
      if (p && typeof p === "object") { for (var k in p) { if (Object.prototype.hasOwnProperty.call(p, k)) { copy[k] = p[k]; } } }
      copy.execution = "execute";
      wdg = widgets[render(ref, copy)];
    }
    note("execute", wdg.id);
    wdg.executed = true;
    show(wdg);
    if (!wdg.response) { run(wdg); }
  }

  function getResponse(ref) {
    var wdg = widget(ref, "getResponse");
    return wdg ? wdg.response || undefined : undefined;
  }

  function isExpired(ref) {
    var wdg = widget(ref, "isExpired");
    return !!(wdg && wdg.expired);
  }

  function reset(ref) {
    var wdg = widget(ref, "reset");
    if (!wdg) { return; }
    setResponse(wdg, "", 0, 0);
    wdg.expired = false;
    setStatus(wdg, "");
    note("reset", wdg.id);
    // A reset widget runs its challenge again (in execute mode, at the next
    // execute).
    if ((wdg.params.execution || "render") === "render") {
      run(wdg);
    } else {
      wdg.executed = false;
      show(wdg);
    }
  }

  function remove(ref) {
    var wdg = widget(ref, "remove");
    if (!wdg) { return; }
    clearTimer(wdg);
    if (wdg.wrap.parentNode) { wdg.wrap.parentNode.removeChild(wdg.wrap); }
    byElement.delete(wdg.el);
    delete widgets[wdg.id];
    order = order.filter(function (x) { return x !== wdg.id; });
    note("remove", wdg.id);
  }

  function ready(fn) {
    if (typeof fn !== "function") { return; }
    if (!loaded) { readyQueue.push(fn); return; }
    later(function () { try { fn(); } catch (e) { report(e); } });
  }

  var api = {ready: ready, render: render, execute: execute, reset: reset, remove: remove,
    getResponse: getResponse, isExpired: isExpired};
  var ts = w.turnstile;
  if (!ts || typeof ts !== "object") { ts = {}; }
  Object.keys(api).forEach(function (k) { ts[k] = api[k]; });
  w.turnstile = ts;

  // --- the test hook ---
  var hook = {
    provider: PROVIDER,
    version: cfg.version || "",
    mintURL: mintURL,
    surface: {methods: Object.keys(api), params: PARAM_NAMES.slice()},
    idle: function () { return loaded && kit.pending === 0 && queued === 0 && readyQueue.length === 0; },
    loaded: function () { return loaded; },
    widgets: function () {
      return order.map(function (id) {
        var x = widgets[id];
        return {id: id, provider: PROVIDER, sitekey: x.sitekey, kind: x.invisible ? "invisible" : "managed", response: x.response,
          expiresAt: x.expiresAt, expired: x.expired, action: x.action, cdata: x.cdata,
          visible: x.wrap.style.display !== "none", waitingClick: !!x.waitingClick,
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
      var els = d.querySelectorAll(".cf-turnstile");
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (byElement.has(el)) { continue; }
        if (!el.getAttribute("data-sitekey")) {
          console.error(PREFIX + "Missing sitekey (on a .cf-turnstile element)");
          continue;
        }
        try { render(el, dataParams(el)); } catch (e) { console.error(PREFIX + e.message); }
      }
    }
    loaded = true;
    var fns = readyQueue;
    readyQueue = [];
    fns.forEach(ready);
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
