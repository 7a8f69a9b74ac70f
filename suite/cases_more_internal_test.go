package suite

import (
	"net/http"
	"strings"
	"testing"
)

// TestOutageLeakFind checks LEAK-002's detector on answers real stacks
// give during an outage: generic error pages and messages show nothing,
// and each kind of leak is found, escaped or not.
func TestOutageLeakFind(t *testing.T) {
	p := outageLeak{verifyHost: "127.0.0.1:40123", secret: "6LcSecretSecretSecret", probeCode: "leak-probe-abcdef"}
	clean := []string{
		`{"error":"captcha-unavailable"}`,
		`{"ok":false}`,
		`{"isHuman":false}`,
		`{"error":"Failed to communicate with reCAPTCHA API"}`,
		"<h1>Internal Server Error</h1>",
		"<!DOCTYPE html><html><head><title>Error</title></head><body><pre>Internal Server Error</pre></body></html>",
		`<HTML><HEAD><TITLE>Internal Server Error</TITLE></HEAD><BODY><H1>Internal Server Error</H1><HR><ADDRESS>WEBrick/1.8.1 (Ruby/3.1.2/2022-04-12) at 127.0.0.1:38001</ADDRESS></BODY></HTML>`,
		"NO!",
		"Verification unavailable, try again later (siteverify is down)",
	}
	for _, body := range clean {
		r := Response{Status: http.StatusServiceUnavailable, Body: []byte(body),
			Header: http.Header{"Server": {"WEBrick/1.8.1 (Ruby/3.1.2/2022-04-12)"}, "X-Powered-By": {"Express"}, "Content-Type": {"text/html;charset=utf-8"}}}
		if found := p.find(r); len(found) > 0 {
			t.Errorf("clean answer %q: found %v", body, found)
		}
	}
	leaky := []struct{ body, want string }{
		{"goroutine 7 [running]:\nruntime/debug.Stack()\n\t/usr/lib/go/src/runtime/debug/stack.go:26 +0x5e", "a stack trace"},
		{"TypeError: Cannot read properties of undefined (reading 'statusCode')\n    at Request._callback (/app/node_modules/google-recaptcha/index.js:31:40)", "a stack trace"},
		{"Traceback (most recent call last):\n  File \"/app/app.py\", line 12, in verify", "a stack trace"},
		{"/usr/lib/ruby/vendor_ruby/recaptcha.rb:93:in `api_verification_recaptcha'", "a stack trace"},
		{"PHP Warning:  file_get_contents(): in /usr/share/php/ReCaptcha/RequestMethod/Post.php on line 80", "a stack trace"},
		{"at com.example.Captcha.verify(Captcha.java:42)", "a stack trace"},
		{`{"error":"SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"}`, "exception text"},
		{"Recaptcha::RecaptchaError", "exception text"},
		{"decode siteverify answer: invalid character '<' looking for beginning of value", "exception text"},
		{"read ECONNRESET", "exception text"},
		{"siteverify said: <title>Error 500 (Internal Server Error)!!1</title>", "siteverify's answer"},
		{`{"detail":"That\u2019s an error."}`, "siteverify's answer"},
		{"That&rsquo;s an error.", "siteverify's answer"},
		{`{"raw":"{\n  \"success\": true,\n  \"challenge_ts\": \""}`, "siteverify's answer"},
		{`{"errors":["leak-probe-abcdef"]}`, "siteverify's error code"},
		{`Post "http://127.0.0.1:40123/recaptcha/api/siteverify?secret=6LcSecretSecretSecret": EOF`, "the siteverify URL"},
	}
	for _, c := range leaky {
		found := p.find(Response{Status: http.StatusServiceUnavailable, Body: []byte(c.body)})
		joined := strings.Join(found, "; ")
		if !strings.Contains(joined, c.want) {
			t.Errorf("%q: found %q, want %s", c.body, joined, c.want)
		}
		if strings.Contains(joined, p.secret) {
			t.Errorf("%q: the finding shows the secret: %q", c.body, joined)
		}
	}
	// Headers count too.
	r := Response{Status: http.StatusServiceUnavailable, Body: []byte(`{"ok":false}`), Header: http.Header{"X-Error": {"JSON::ParserError"}}}
	if found := p.find(r); len(found) != 1 || !strings.Contains(found[0], "exception text") {
		t.Errorf("header leak: found %v", found)
	}
}
