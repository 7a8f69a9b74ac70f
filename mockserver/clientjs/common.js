// siteverify: what the three client-script stand-ins (api.js, hcaptcha.js,
// turnstile.js) share. The mock serves each stand-in as this file followed by
// the provider's own, both inside one function, so nothing here becomes a
// global of the page.
//
// siteverifyKit(opts) returns the shared pieces, bound to one stand-in:
//   opts.prefix       the console prefix, "[siteverify mock hCaptcha] "
//   opts.title        the provider's name in messages, "hCaptcha"
//   opts.provider     the provider's identifier, "hcaptcha"
//   opts.mintURL      where tokens are minted
//   opts.jsonpPrefix  the stand-in's JSONP callback names ("cb", "hc", "ts"),
//                     distinct so that stand-ins on one page never collide
function siteverifyKit(opts) {
  "use strict";
  var w = window, d = document;
  var kit = {
    events: [],   // what the page saw, for tests: callbacks, errors, expiries
    pending: 0,   // mint requests in flight
    jsonp: {}     // JSONP callbacks in flight, shared by the stand-ins of a page
  };

  kit.note = function (type, widget, detail) {
    var e = {type: type, widget: widget, time: Date.now()};
    if (detail !== undefined) { e.detail = detail; }
    kit.events.push(e);
    if (kit.events.length > 500) { kit.events.shift(); }
  };

  // report rethrows an exception from page code without breaking the widget,
  // the way the real scripts' callbacks surface errors (an uncaught error).
  kit.report = function (err) { setTimeout(function () { throw err; }, 0); };

  // lookup resolves a callback given as a function or as the name of a
  // global function ("onSubmit", or a dotted path "app.onSubmit"), at call
  // time, as the real scripts do.
  kit.lookup = function (f) {
    if (typeof f === "function") { return f; }
    if (typeof f !== "string" || f === "") { return null; }
    var o = w, parts = f.split(".");
    for (var i = 0; i < parts.length && o != null; i++) { o = o[parts[i]]; }
    return typeof o === "function" ? o : null;
  };

  // callBack calls the widget's callback parameter name with arg, and says
  // whether there was one.
  kit.callBack = function (wdg, name, arg) {
    var spec = wdg.params[name];
    if (spec === undefined || spec === null || spec === "") { return false; }
    var fn = kit.lookup(spec);
    if (!fn) {
      console.error(opts.prefix + name + " " + JSON.stringify(String(spec)) + " is not a function");
      kit.note(name + "-missing", wdg.id);
      return false;
    }
    kit.note(name, wdg.id);
    try { fn(arg); } catch (e) { kit.report(e); }
    return true;
  };

  kit.randomID = function (n) {
    var s = "";
    while (s.length < n) { s += Math.random().toString(36).slice(2); }
    return s.slice(0, n);
  };

  // --- tokens ---
  kit.MintError = function (message, code) {
    var e = new Error(message);
    e.code = code || "error";
    return e;
  };

  kit.checkAnswer = function (j, status) {
    if (!j || !j.token) {
      throw kit.MintError((j && j.error) || ("mint answered HTTP " + status), j && j.code);
    }
    return j;
  };

  // mintByScript asks for the token with a <script> (JSONP). A page whose
  // Content-Security-Policy allows the provider's script but not fetch to it
  // (connect-src) works with the real widget, which talks to the provider
  // from its iframe; this keeps such a page working with the mock too.
  var jsonpSeq = 0;
  function mintByScript(body) {
    return new Promise(function (resolve, reject) {
      var name = opts.jsonpPrefix + (++jsonpSeq);
      var el = d.createElement("script");
      var done = function () { delete kit.jsonp[name]; if (el.parentNode) { el.parentNode.removeChild(el); } };
      kit.jsonp[name] = function (j) { done(); try { resolve(kit.checkAnswer(j, 400)); } catch (e) { reject(e); } };
      body.set("callback", "__siteverify.jsonp." + name);
      el.src = opts.mintURL + "?" + body.toString();
      el.onerror = function () { done(); reject(kit.MintError("cannot reach the " + opts.title + " mock at " + opts.mintURL, "network")); };
      (d.head || d.documentElement).appendChild(el);
    });
  }

  // mint asks the mock for a token with the form body makeBody returns;
  // where fetch is refused (a Content-Security-Policy, say), with a script.
  kit.mint = function (makeBody) {
    kit.pending++;
    // A form body keeps this a CORS "simple request": no preflight.
    return fetch(opts.mintURL, {method: "POST", body: makeBody(), credentials: "omit", cache: "no-store"})
      .then(function (r) {
        return r.text().then(function (text) {
          var j;
          try { j = JSON.parse(text); } catch (e) { j = null; }
          return kit.checkAnswer(j, r.status);
        });
      }, function () { return mintByScript(makeBody()); })
      .finally(function () { kit.pending--; });
  };

  // --- the test hook ---

  // expireWidgets is the hook's expire(mockNowMs): it expires every widget
  // (ids in order, skip(widget) true to leave one alone) whose token ran out
  // at that time on the mock's clock, or every token without a time, calling
  // expire(widget) for each; it says how many widgets expired and how many
  // had an expired-callback.
  kit.expireWidgets = function (order, widgets, expire, mockNowMs, skip) {
    var n = 0, cbs = 0, events = kit.events;
    order.slice().forEach(function (id) {
      var x = widgets[id];
      if (!x || !x.response || (skip && skip(x))) { return; }
      if (mockNowMs === undefined || (x.expiresAt && x.expiresAt <= mockNowMs)) {
        var before = events.length;
        if (expire(x)) {
          n++;
          for (var i = before; i < events.length; i++) {
            if (events[i].type === "expired-callback") { cbs++; }
          }
        }
      }
    });
    return {expired: n, callbacks: cbs};
  };

  // publish makes hook window.__siteverify. Another provider's stand-in on
  // the same page already there: one hook answers for both (idle, events,
  // widgets and expire span every stand-in; JSONP callbacks share a table).
  kit.publish = function (hook) {
    hook.provider = opts.provider;
    hook.jsonp = kit.jsonp;
    var prev = w.__siteverify;
    if (prev && typeof prev === "object" && prev.provider !== opts.provider) {
      var mine = {idle: hook.idle, events: hook.events, widgets: hook.widgets, expire: hook.expire};
      if (prev.jsonp) {
        kit.jsonp = hook.jsonp = prev.jsonp;
      }
      hook.others = prev;
      hook.idle = function () { return mine.idle() && prev.idle(); };
      hook.events = function () { return prev.events().concat(mine.events()); };
      hook.widgets = function () { return prev.widgets().concat(mine.widgets()); };
      hook.expire = function (now) {
        var a = mine.expire(now), b = prev.expire(now);
        return {expired: a.expired + b.expired, callbacks: a.callbacks + b.callbacks};
      };
    }
    try {
      Object.defineProperty(w, "__siteverify", {value: hook, configurable: true});
    } catch (e) { w.__siteverify = hook; }
  };

  return kit;
}
