// Package browser drives headless Chromium through a page's whole reCAPTCHA
// token lifecycle: the page loads Google's script, asks for a token, posts
// it with its form, and the backend verifies it against the mock. Pages run
// unchanged and offline: requests for Google's script URLs
// (https://www.google.com/recaptcha/*, www.recaptcha.net, www.gstatic.com)
// are intercepted in the browser and answered by the mock's client script
// (see mockserver.ScriptPath), whose tokens come from the mock's own store.
// Every tab does the same for hCaptcha's and Turnstile's real URLs
// (https://js.hcaptcha.com/1/api.js, https://challenges.cloudflare.com/turnstile/v0/api.js,
// see [ProviderPatterns]), answered by the mock's stand-ins for those
// scripts, and answers hCaptcha's telemetry ([QuietPatterns]) in the
// browser. The flow catalog below still runs reCAPTCHA pages only.
//
// A run is a list of [Page]s and a selection of [Flow]s (the catalog, with
// stable IDs FLOW-001…):
//
//	FLOW-001 happy path: token, submit, verified once with the page's
//	         sitekey, hostname and action, success shown (every kind)
//	FLOW-002 resubmitting the same token is rejected (every kind): the
//	         request that carried the token (form post, XHR or fetch) is
//	         sent again exactly and the backend's answer judged
//	FLOW-003 token held past its lifetime: the mock's clock moves 3m between
//	         load and submit; only a page that asks at submit time passes (v3)
//	FLOW-004 a low scripted score shows a rejection, never success (v3)
//	FLOW-005 expiry: expired-callback runs and the page recovers (v2
//	         checkbox, hCaptcha); the page posts the renewed token (Turnstile)
//	FLOW-006 the page's action is the backend's (v3, Turnstile)
//
// Page kinds are reCAPTCHA's v3, v2-checkbox and v2-invisible, hCaptcha's
// hcaptcha and hcaptcha-enterprise (the checkbox) and turnstile (the
// managed widget); a flow that does not apply to a kind is skipped, saying
// why (Flow.SkipReason).
//
// Submit requests: every tab records the page's form posts and its XHR and
// fetch requests (with the backend's answers to the latter) through the
// DevTools Fetch domain. The flows find the request that carried the token
// among them, in its URL, a header or its body. FLOW-002 sends a form post
// again from the page, judged by what the page shows; an XHR or fetch
// request again from Go with the same method, URL, headers, the browser's
// cookies for the URL and body, judged by the backend's answer: a 4xx/5xx
// after a success, or the answer a forged token gets, is a refusal; the same
// answer as the first is an acceptance; JSON answers are compared field by
// field (a boolean that flips or an error field that appears is a refusal).
//
// One browser serves a whole run; every flow gets a fresh browser context
// (no cookies or storage shared) and runs alone, because flows move the
// mock's clock and script its scores. A flow that does not pass carries a
// PNG screenshot, the page's console log, the steps taken, the mock's
// siteverify journal and the tokens the page asked for.
//
// Expiry: the page cannot see the mock's clock, so after advancing it a flow
// calls window.__siteverify.expire(mockNowMs), a hook of the mock's client
// script: widgets whose token ran out fire expired-callback and clear their
// response, exactly what the real widget does when its own timer fires.
//
// Chromium is found by [FindChrome]: a --chrome flag, then CHROME_PATH, then
// the usual names and paths (Debian's package installs /usr/bin/chromium).
// When there is none the error is [ErrChromeNotFound], which says how to
// install it.
//
// Through the providers' real URLs: a browser launched with a [Proxy]
// ([Options].Proxy, [Config].Proxy; see [Impersonate]) sends its requests
// through the mock's forward proxy (--proxy-server) and trusts the mock's CA,
// and only it, for the run (--ignore-certificate-errors-spki-list with the
// CA's SPKI hash; never a blanket ignore of certificate errors). Its tabs
// then answer nothing in the browser: each provider's script loads from its
// real URL, served by the mock behind the proxy. Loopback pages still load
// directly (Chromium's implicit proxy bypass for localhost and 127.0.0.0/8).
//
// Staging mode ([Config].Staging) runs the staging code path: the real
// provider script with the page's staging sitekey, no interception in the
// browser, and a backend that calls the provider's real verify URL; only
// FLOW-001 and FLOW-002 on v3 pages run there. Against the real provider it
// needs a network, and without one fails at once with [ErrNoNetwork].
// Against an impersonation ([Config].Proxy and [Config].Impersonator: a mock
// answering Google's real URLs through its proxy, the backend given
// intercept.ProxyEnv and intercept.CAEnv) it runs offline, and FLOW-001 also
// checks, from that mock's journal, that the backend verified the page's
// token exactly once with the secret of the staging sitekey. The report
// says which it was ([Report].Against).
package browser
