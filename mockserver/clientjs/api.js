// siteverify mock of Google's reCAPTCHA client script (api.js and
// enterprise.js). It is served by the mock at /recaptcha/api.js and
// /recaptcha/enterprise.js, and by the browser package in place of
// https://www.google.com/recaptcha/api.js, so the page under test runs
// unchanged with no network.
//
// Surface (wire-facts §5.1, checked against @types/grecaptcha by the browser
// package's tests): grecaptcha.ready, render, execute, getResponse, reset,
// and the same under grecaptcha.enterprise with enterprise.js.
//   - render(container, params, inherit): container is an element or its id;
//     render(params) alone (as the recaptcha-v3 loader calls it) renders into
//     a new element at the end of <body>; inherit fills missing params from
//     the container's data-* attributes.
//   - The widget type comes from the sitekey's key type, as with Google: a v3
//     key always gives an invisible v3 widget (execute(id, {action}) resolves
//     to a token); for v2 keys, size chooses between the checkbox and the
//     invisible widget (a key of the other type fails with "Invalid key type"
//     when the token is asked for). The server puts the key types it knows
//     in the script's configuration.
//   - execute(sitekey, {action}) for a v3 key loaded with ?render=SITEKEY or
//     rendered; execute(widgetId[, {action}]); execute() is the first widget.
//   - getResponse and reset with or without a widget id (the first widget).
//   - ?render=SITEKEY (v3 badge, widget id 100000), ?render=explicit,
//     ?onload=fn, ?hl=; implicit rendering of .g-recaptcha[data-sitekey];
//     button binding; the hidden g-recaptcha-response textarea; a clickable
//     checkbox that shows a check mark when solved; the ___grecaptcha_cfg.fns
//     pre-load queue.
//
// Differences from the real widget, on purpose:
//   - The widget is plain DOM in the page, not a cross-origin iframe, so a
//     test can click ".recaptcha-checkbox" directly. There is no challenge:
//     a click solves it.
//   - Tokens come from the mock's mint endpoint (same origin as this script,
//     /recaptcha/api2/mint), which records sitekey, action, page hostname and
//     path, and applies scripted scores.
//   - Expiry: the real widget fires expired-callback when its timer runs out.
//     The page cannot see the mock's clock, so a token also expires when a
//     test calls window.__siteverify.expire(mockNowMs) (or expireAll()) after
//     advancing the mock's clock. Either way the widget does what the real
//     one does: it clears the response, unchecks the box and calls
//     expired-callback.
//   - window.__siteverify is a test hook that the real script does not have.
(function (cfg) {
  "use strict";
  var w = window, d = document;
  var PREFIX = "[siteverify mock reCAPTCHA] ";
  var V3_BADGE_ID = 100000;

  // --- configuration: the script's own URL wins over what the server saw ---
  var params = {render: cfg.render || "", onload: cfg.onload || "", hl: cfg.hl || ""};
  // keyKinds maps the sitekeys the mock knows to their key type ("v3",
  // "v2-checkbox", "v2-invisible", "android", or "any" for Google's test key,
  // which works in both v2 widgets).
  var keyKinds = cfg.keys || {};
  var origin = cfg.origin || "https://www.google.com";
  var me = d.currentScript;
  if (me && me.src) {
    try {
      var u = new URL(me.src, location.href);
      origin = u.origin;
      ["render", "onload", "hl"].forEach(function (k) {
        if (u.searchParams.has(k)) { params[k] = u.searchParams.get(k); }
      });
    } catch (e) { /* keep the server's view */ }
  }
  var mintURL = origin + "/recaptcha/api2/mint";
  var renderMode = params.render || "onload"; // "onload", "explicit" or a v3 sitekey

  // --- state ---
  var widgets = {};      // id -> widget
  var order = [];        // ids in creation order
  var nextID = 0;
  var nextBadgeID = V3_BADGE_ID;
  var v3Keys = {};       // sitekey -> badge widget, for execute(sitekey, ...)
  var queued = 0;        // ready callbacks scheduled but not yet run
  var loaded = false;
  var readyQueue = [];
  var byElement = typeof WeakMap === "function" ? new WeakMap() : null;

  var kit = siteverifyKit({prefix: PREFIX, title: "reCAPTCHA", provider: "recaptcha", mintURL: mintURL, jsonpPrefix: "cb"});
  var events = kit.events, note = kit.note, report = kit.report, lookup = kit.lookup, callBack = kit.callBack,
    MintError = kit.MintError;

  function later(fn) { setTimeout(fn, 0); }

  // setCount keeps ___grecaptcha_cfg.count, if the page has not removed the
  // object (some wrappers delete it when they unmount).
  function setCount() {
    var gc = w.___grecaptcha_cfg;
    if (gc && typeof gc === "object") { gc.count = order.length; }
  }

  // --- tokens ---
  function mintBody(sitekey, kind, action, widgetID) {
    var body = new URLSearchParams();
    body.set("sitekey", sitekey || "");
    body.set("kind", kind);
    if (action) { body.set("action", action); }
    body.set("hostname", location.hostname);
    body.set("page", location.pathname);
    body.set("widget", String(widgetID));
    if (cfg.enterprise) { body.set("enterprise", "1"); }
    return body;
  }

  function mint(sitekey, kind, action, widgetID) {
    return kit.mint(function () { return mintBody(sitekey, kind, action, widgetID); });
  }

  // --- widgets ---
  function textareaFor(id) {
    var ta = d.createElement("textarea");
    ta.id = id === 0 ? "g-recaptcha-response" : "g-recaptcha-response-" + id;
    ta.name = "g-recaptcha-response";
    ta.className = "g-recaptcha-response";
    ta.setAttribute("style", "width: 250px; height: 40px; border: 1px solid rgb(193, 193, 193); margin: 10px 25px; padding: 0px; resize: none; display: none;");
    return ta;
  }

  function setMessage(wdg, text, isError) {
    if (!wdg.message) { return; }
    wdg.message.textContent = text;
    wdg.message.className = isError ? "rc-anchor-error-msg" : "rc-anchor-msg";
  }

  // setChecked shows the box's state: aria-checked, Google's class names,
  // and a visible green check mark when solved (a spinner-like dashed border
  // while the token is being fetched).
  function setChecked(wdg, on, busy) {
    if (!wdg.checkbox) { return; }
    var box = wdg.checkbox;
    box.setAttribute("aria-checked", on ? "true" : "false");
    box.className = "recaptcha-checkbox" + (on ? " recaptcha-checkbox-checked" : "") + (busy ? " recaptcha-checkbox-loading" : "");
    box.textContent = on ? "\u2714" : "";
    box.style.color = "#009e55";
    box.style.borderColor = on ? "transparent" : "#c1c1c1";
    box.style.borderStyle = busy ? "dashed" : "solid";
    box.style.fontSize = "22px";
    box.style.lineHeight = "24px";
    box.style.textAlign = "center";
  }

  function clearTimer(wdg) {
    if (wdg.timer) { clearTimeout(wdg.timer); wdg.timer = null; }
  }

  function setResponse(wdg, ans) {
    clearTimer(wdg);
    wdg.response = ans.token;
    wdg.expiresAt = ans.expires_at_ms || 0;
    wdg.textarea.value = ans.token;
    setChecked(wdg, true);
    setMessage(wdg, "", false);
    // The real widget's own timer. Tests do not wait for it: they advance
    // the mock's clock and call __siteverify.expire.
    if (wdg.kind !== "v3" && ans.expires_in_ms > 0) {
      wdg.timer = setTimeout(function () { expire(wdg); }, ans.expires_in_ms);
    }
  }

  function clearResponse(wdg) {
    clearTimer(wdg);
    wdg.response = "";
    wdg.expiresAt = 0;
    wdg.textarea.value = "";
    setChecked(wdg, false);
  }

  // expire does what the real widget does when its token runs out: the box
  // unchecks, the response is cleared and expired-callback runs.
  function expire(wdg) {
    if (!wdg.response) { return false; }
    clearResponse(wdg);
    setMessage(wdg, "Verification expired. Check the checkbox again.", false);
    var had = callBack(wdg, "expired-callback");
    note("expired", wdg.id, {callback: had});
    return true;
  }

  function fail(wdg, err) {
    console.error(PREFIX + err.message);
    setChecked(wdg, false);
    var msg = err.code === "invalid-sitekey" ? "ERROR for site owner: Invalid site key"
      : err.code === "invalid-key-type" ? "ERROR for site owner: Invalid key type"
      : "Cannot contact reCAPTCHA. Check your connection and try again.";
    setMessage(wdg, msg, true);
    note("error", wdg.id, err.code);
    callBack(wdg, "error-callback");
  }

  // solve gets a token for a v2 widget (a click on the box, or execute on an
  // invisible widget): mint, fill the textarea, call callback.
  function solve(wdg, action) {
    if (wdg.solving) { return wdg.solving; }
    if (wdg.response && wdg.kind === "v2-checkbox") { return Promise.resolve(wdg.response); }
    note("solve", wdg.id);
    setChecked(wdg, false, true);
    wdg.solving = mint(wdg.sitekey, wdg.kind, action || wdg.params.action, wdg.id).then(function (ans) {
      wdg.solving = null;
      setResponse(wdg, ans);
      callBack(wdg, "callback", ans.token);
      return ans.token;
    }, function (err) {
      wdg.solving = null;
      fail(wdg, err);
      throw err;
    });
    return wdg.solving;
  }

  function elementOf(container) {
    var el = typeof container === "string" ? d.getElementById(container) : container;
    if (!el || el.nodeType !== 1) {
      throw new Error("reCAPTCHA placeholder element must be an element or id");
    }
    return el;
  }

  function renderedIn(el) {
    if (byElement) { return byElement.has(el) ? byElement.get(el) : null; }
    return el.__siteverifyWidget !== undefined ? el.__siteverifyWidget : null;
  }

  function markRendered(el, id) {
    if (byElement) { byElement.set(el, id); } else { el.__siteverifyWidget = id; }
  }

  function normalizeParams(p) {
    var out = {};
    for (var k in p) { if (Object.prototype.hasOwnProperty.call(p, k)) { out[k] = p[k]; } }
    return out;
  }

  var PARAM_NAMES = ["sitekey", "callback", "expired-callback", "error-callback", "size", "theme", "tabindex", "badge", "action", "type", "hl", "isolated", "stoken", "s"];

  // dataParams reads the render parameters from an element's data-*
  // attributes (data-sitekey, data-callback, ...).
  function dataParams(el) {
    var p = {};
    PARAM_NAMES.forEach(function (name) {
      var v = el.getAttribute("data-" + name);
      if (v !== null) { p[name] = v; }
    });
    return p;
  }

  function isElementOrID(c) {
    return typeof c === "string" || (c !== null && typeof c === "object" && c.nodeType === 1);
  }

  // widgetKind decides the widget from the key's type, as Google does: a v3
  // key always makes an invisible v3 widget; for v2 keys size chooses.
  function widgetKind(sitekey, invisible) {
    if (keyKinds[sitekey] === "v3") { return "v3"; }
    return invisible ? "invisible" : "v2-checkbox";
  }

  function render(container, p, inherit) {
    if (!isElementOrID(container) && container !== null && typeof container === "object" && p === undefined) {
      // render(params): Google renders into a new element at the end of the
      // body (the recaptcha-v3 loader relies on it).
      p = container;
      container = d.createElement("div");
      (d.body || d.documentElement).appendChild(container);
    }
    var el = elementOf(container);
    if (renderedIn(el) !== null) { throw new Error("reCAPTCHA has already been rendered in this element"); }
    p = normalizeParams(p || {});
    if (inherit) {
      var fromData = dataParams(el);
      for (var k in fromData) { if (p[k] === undefined) { p[k] = fromData[k]; } }
    }
    if (!p.sitekey) { throw new Error("Missing required parameters: sitekey"); }
    var bound = el.tagName === "BUTTON" || (el.tagName === "INPUT" && /^(submit|button|image)$/i.test(el.type));
    var kind = widgetKind(String(p.sitekey), bound || p.size === "invisible");
    var invisible = kind !== "v2-checkbox";
    var id = nextID++;
    var wdg = {
      id: id, el: el, sitekey: String(p.sitekey), params: p, bound: bound,
      // "invisible" takes a v2 invisible key (or a key the mock does not
      // know); the mint endpoint judges the key's type.
      kind: kind,
      response: "", expiresAt: 0, timer: null, solving: null
    };
    if (kind === "v3" && !v3Keys[wdg.sitekey]) { v3Keys[wdg.sitekey] = wdg; }
    var wrap = d.createElement("div");
    wrap.className = "grecaptcha-mock";
    wrap.setAttribute("data-widget-id", String(id));
    if (invisible) {
      var badge = d.createElement("div");
      badge.className = "grecaptcha-badge";
      badge.setAttribute("data-style", p.badge || "bottomright");
      if (p.badge !== "inline") {
        badge.setAttribute("style", "width: 256px; height: 60px; position: fixed; bottom: 14px; right: -186px;");
      }
      badge.textContent = "protected by reCAPTCHA (siteverify mock)";
      wrap.appendChild(badge);
    } else {
      var box = d.createElement("div");
      box.id = id === 0 ? "recaptcha-anchor" : "recaptcha-anchor-" + id;
      box.setAttribute("role", "checkbox");
      box.setAttribute("aria-checked", "false");
      box.setAttribute("aria-labelledby", box.id + "-label");
      box.setAttribute("tabindex", String(p.tabindex || 0));
      box.className = "recaptcha-checkbox";
      box.setAttribute("style", "display:inline-block;width:24px;height:24px;border:2px solid #c1c1c1;border-radius:2px;cursor:pointer;vertical-align:middle;background:#fff");
      var label = d.createElement("label");
      label.id = box.id + "-label";
      label.textContent = " I'm not a robot";
      label.setAttribute("style", "vertical-align:middle;font-family:Roboto,helvetica,arial,sans-serif;font-size:14px");
      var msg = d.createElement("div");
      msg.className = "rc-anchor-msg";
      msg.setAttribute("style", "font-size:10px;color:#d14836");
      wrap.setAttribute("style", "width: 304px; height: 78px; border: 1px solid #d3d3d3; background: #f9f9f9; box-sizing: border-box; padding: 12px;");
      wrap.appendChild(box);
      wrap.appendChild(label);
      wrap.appendChild(msg);
      wdg.checkbox = box;
      wdg.message = msg;
      var onActivate = function (ev) {
        if (ev) { ev.preventDefault(); }
        solve(wdg).catch(function () { /* reported through error-callback */ });
      };
      box.addEventListener("click", onActivate);
      label.addEventListener("click", onActivate);
      box.addEventListener("keydown", function (ev) {
        if (ev.key === " " || ev.key === "Enter") { onActivate(ev); }
      });
    }
    wdg.textarea = textareaFor(id);
    wrap.appendChild(wdg.textarea);
    if (bound) {
      // A bound button keeps its place; the widget goes right after it, so
      // the textarea is inside the same form. The click runs the challenge
      // and the callback submits.
      el.parentNode.insertBefore(wrap, el.nextSibling);
      el.addEventListener("click", function (ev) {
        ev.preventDefault();
        (wdg.kind === "v3" ? executeV3(wdg, p.action) : solve(wdg, p.action)).catch(function () {});
      });
    } else {
      el.appendChild(wrap);
    }
    markRendered(el, id);
    widgets[id] = wdg;
    order.push(id);
    setCount();
    note("render", id, {sitekey: wdg.sitekey, kind: wdg.kind});
    return id;
  }

  // renderBadge makes the invisible v3 badge for ?render=SITEKEY.
  function renderBadge(sitekey) {
    if (v3Keys[sitekey]) { return v3Keys[sitekey].id; }
    var id = nextBadgeID++;
    var wrap = d.createElement("div");
    wrap.className = "grecaptcha-badge";
    wrap.setAttribute("data-style", "bottomright");
    wrap.setAttribute("style", "width: 256px; height: 60px; position: fixed; visibility: hidden; bottom: 14px; right: -186px;");
    wrap.textContent = "protected by reCAPTCHA (siteverify mock)";
    var wdg = {id: id, el: wrap, sitekey: sitekey, params: {}, kind: "v3", response: "", expiresAt: 0, timer: null};
    wdg.textarea = textareaFor(id);
    wrap.appendChild(wdg.textarea);
    (d.body || d.documentElement).appendChild(wrap);
    widgets[id] = wdg;
    order.push(id);
    v3Keys[sitekey] = wdg;
    setCount();
    note("render", id, {sitekey: sitekey, kind: "v3"});
    return id;
  }

  function widget(id, method) {
    if (id === undefined || id === null) {
      if (order.length === 0) { throw new Error("No reCAPTCHA clients exist."); }
      return widgets[order[0]];
    }
    var wdg = widgets[id];
    if (!wdg) { throw new Error("Invalid reCAPTCHA client id: " + id + " (" + method + ")"); }
    return wdg;
  }

  // --- the public API ---
  function execute(a, opts) {
    if (typeof a === "string" && widgets[a] === undefined) {
      // v3: execute(sitekey, {action}) -> Promise<token>
      var action = opts && opts.action;
      var badge = v3Keys[a];
      if (!badge) {
        var err = new Error("Invalid site key or not loaded in api.js: " + a);
        console.error(PREFIX + err.message);
        note("error", null, "not-loaded");
        return Promise.reject(err);
      }
      if (action && !/^[A-Za-z0-9_\/]+$/.test(action)) {
        console.warn(PREFIX + "action " + JSON.stringify(action) + " has characters outside A-Za-z0-9_/; Google may reject it");
      }
      note("execute", badge.id, {action: action || ""});
      return mint(a, "v3", action, badge.id).then(function (ans) {
        badge.response = ans.token;
        badge.textarea.value = ans.token;
        return ans.token;
      }, function (e) {
        console.error(PREFIX + e.message);
        note("error", badge.id, e.code);
        throw e;
      });
    }
    var wdg = widget(a, "execute");
    note("execute", wdg.id, {action: (opts && opts.action) || ""});
    if (wdg.kind === "v3") { return executeV3(wdg, opts && opts.action); }
    return solve(wdg, opts && opts.action);
  }

  // executeV3 mints a v3 token for a rendered v3 widget: the promise
  // resolves to the token, the textarea holds it and callback runs.
  function executeV3(wdg, action) {
    action = action || wdg.params.action;
    return mint(wdg.sitekey, "v3", action, wdg.id).then(function (ans) {
      wdg.response = ans.token;
      wdg.textarea.value = ans.token;
      callBack(wdg, "callback", ans.token);
      return ans.token;
    }, function (e) {
      console.error(PREFIX + e.message);
      note("error", wdg.id, e.code);
      callBack(wdg, "error-callback");
      throw e;
    });
  }

  function getResponse(id) {
    var wdg = widget(id, "getResponse");
    return wdg.response || "";
  }

  function reset(id) {
    var wdg = widget(id, "reset");
    clearResponse(wdg);
    setMessage(wdg, "", false);
    note("reset", wdg.id);
  }

  function ready(fn) {
    if (typeof fn !== "function") { return; }
    if (!loaded) { readyQueue.push(fn); return; }
    queued++;
    later(function () {
      queued--;
      try { fn(); } catch (e) { report(e); }
    });
  }

  var api = {ready: ready, render: render, execute: execute, getResponse: getResponse, reset: reset};

  // Install on the existing stub object, if the page made one, so references
  // the page already holds keep working.
  var g = w.grecaptcha;
  if (!g || (typeof g !== "object" && typeof g !== "function")) { g = {}; }
  w.grecaptcha = g;
  var target = g;
  if (cfg.enterprise) {
    if (!g.enterprise || typeof g.enterprise !== "object") { g.enterprise = {}; }
    target = g.enterprise;
    // Real enterprise.js documents only grecaptcha.enterprise.*. Keep the
    // top-level names working, but say so: a page that uses them with
    // enterprise.js is probably wrong.
    Object.keys(api).forEach(function (k) {
      g[k] = function () {
        console.warn(PREFIX + "grecaptcha." + k + " called with enterprise.js: use grecaptcha.enterprise." + k);
        return api[k].apply(null, arguments);
      };
    });
  }
  Object.keys(api).forEach(function (k) { target[k] = api[k]; });

  var gc = w.___grecaptcha_cfg;
  if (!gc || typeof gc !== "object") { gc = w.___grecaptcha_cfg = {}; }
  if (!Array.isArray(gc.fns)) { gc.fns = []; }
  gc.clients = gc.clients || {};
  gc.count = gc.count || 0;
  // Later pushes onto the queue (a shim that still thinks we are loading)
  // run too.
  var earlyFns = gc.fns;
  gc.fns = {push: function () { for (var i = 0; i < arguments.length; i++) { ready(arguments[i]); } return 0; }, length: 0};

  // --- the test hook ---
  var hook = {
    version: cfg.version || "",
    enterprise: !!cfg.enterprise,
    mintURL: mintURL,
    hl: params.hl,
    // surface: the methods and render parameters this stand-in implements,
    // which the browser package's tests check against @types/grecaptcha.
    surface: {methods: Object.keys(api), params: PARAM_NAMES.slice()},
    // idle: loaded, no mint in flight and no ready callback waiting.
    idle: function () { return loaded && kit.pending === 0 && queued === 0 && readyQueue.length === 0; },
    loaded: function () { return loaded; },
    // widgets: a snapshot of every widget.
    widgets: function () {
      return order.map(function (id) {
        var x = widgets[id];
        return {id: id, sitekey: x.sitekey, kind: x.kind, response: x.response,
          expiresAt: x.expiresAt, checked: !!(x.checkbox && x.checkbox.getAttribute("aria-checked") === "true"),
          callbacks: {callback: !!x.params.callback, expired: !!x.params["expired-callback"], error: !!x.params["error-callback"]}};
      });
    },
    // events: what happened, oldest first (render, solve, callback,
    // expired-callback, expired, error, reset, ...).
    events: function () { return events.slice(); },
    // expire(mockNowMs) expires every widget whose token ran out at that time
    // on the mock's clock (v3 tokens are not the widget's to expire); see
    // siteverifyKit.expireWidgets (common.js).
    expire: function (mockNowMs) {
      return kit.expireWidgets(order, widgets, expire, mockNowMs, function (x) { return x.kind === "v3"; });
    },
    expireAll: function () { return hook.expire(); }
  };
  kit.publish(hook);

  // --- loading ---
  function init() {
    if (renderMode !== "explicit" && renderMode !== "onload") {
      renderBadge(renderMode);
    }
    if (renderMode !== "explicit") {
      // Implicit rendering of every .g-recaptcha happens for render=onload
      // (the default); with render=SITEKEY only bound buttons are rendered.
      var els = d.querySelectorAll(".g-recaptcha");
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (renderedIn(el) !== null) { continue; }
        var key = el.getAttribute("data-sitekey");
        if (!key) {
          console.error(PREFIX + "Missing required parameters: sitekey (on a .g-recaptcha element)");
          continue;
        }
        if (renderMode !== "onload" && !(el.tagName === "BUTTON" || el.tagName === "INPUT")) { continue; }
        try { render(el, dataParams(el)); } catch (e) { console.error(PREFIX + e.message); }
      }
    }
    loaded = true;
    var fns = earlyFns.concat(readyQueue);
    earlyFns = [];
    readyQueue = [];
    fns.forEach(ready);
    if (params.onload) {
      var fn = lookup(params.onload);
      if (fn) {
        queued++;
        later(function () {
          queued--;
          try { fn(); } catch (e) { report(e); }
        });
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
