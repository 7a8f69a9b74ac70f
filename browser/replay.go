package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// httpAnswer is a backend's answer to one request.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a httpAnswer) String() string {
	body := strings.Join(strings.Fields(string(a.Body)), " ")
	if len(body) > 160 {
		body = body[:160] + "…"
	}
	if body == "" {
		return fmt.Sprintf("HTTP %d", a.Status)
	}
	return fmt.Sprintf("HTTP %d %s", a.Status, body)
}

// hopHeaders are not replayed: the client sets them for its own connection.
var hopHeaders = []string{"Host", "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Upgrade", "Accept-Encoding"}

// resend sends s again, exactly: method, URL, the page's headers, the
// browser's cookies for the URL (the browser adds them after interception,
// so they are read from its cookie jar) and body, with swap applied to the
// token (nil keeps it). Redirects are not followed: the answer is judged
// as the backend gave it.
func (fr *flowRun) resend(s Submission, swap func(string) string) (httpAnswer, error) {
	if swap == nil {
		swap = func(v string) string { return v }
	}
	ctx, cancel := context.WithTimeout(fr.ctx, outcomeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.Method, swap(s.URL), bytes.NewReader([]byte(swap(string(s.Body)))))
	if err != nil {
		return httpAnswer{}, fmt.Errorf("build the replayed request: %w", err)
	}
	for k, vs := range s.Header {
		if slices.ContainsFunc(hopHeaders, func(h string) bool { return strings.EqualFold(h, k) }) {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, swap(v))
		}
	}
	if req.Header.Get("Cookie") == "" {
		if cs, err := chromedp.Call(fr.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}}); err == nil {
			var pairs []string
			for _, c := range cs.Cookies {
				pairs = append(pairs, c.Name+"="+c.Value)
			}
			if len(pairs) > 0 {
				req.Header.Set("Cookie", strings.Join(pairs, "; "))
			}
		}
	}
	resp, err := fr.tab.client.Do(req)
	if err != nil {
		return httpAnswer{}, fmt.Errorf("send the request again: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCapturedBody))
	if err != nil {
		return httpAnswer{}, fmt.Errorf("read the answer to the replayed request: %w", err)
	}
	return httpAnswer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// replayScripted sends an XHR or fetch request that carried token again and
// judges the backend's answer against its answer to the page's own request
// and, when those two cannot tell, its answer to the same request with a
// forged token.
func (fr *flowRun) replayScripted(s Submission, token string) (outcome, string, error) {
	fr.step("send the page's XHR/fetch request %s %s again, exactly (headers, cookies, body)", s.Method, s.URL)
	again, err := fr.resend(s, nil)
	if err != nil {
		return "", "", err
	}
	fr.step("the backend answered the replay: %v", again)
	first := httpAnswer{Status: s.Status, Header: s.ResponseHeader, Body: s.ResponseBody}
	forged := func() (httpAnswer, error) {
		if token == "" {
			return httpAnswer{}, fmt.Errorf("no token to forge")
		}
		f := forgeToken(token)
		a, err := fr.resend(s, func(v string) string { return strings.ReplaceAll(v, token, f) })
		if err == nil {
			fr.step("the backend answered the same request with a forged token: %v", a)
		}
		return a, err
	}
	o, why := judgeReplay(first, again, forged)
	return o, why, nil
}

// forgeToken returns a token of the same length and alphabet that the
// provider never issued.
func forgeToken(tok string) string {
	b := []byte(tok)
	slices.Reverse(b)
	if f := string(b); f != tok {
		return f
	}
	for i := range b { // a palindrome: change every character
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
	}
	return string(b)
}

// judgeReplay decides whether the backend accepted a replayed request
// (outcomeSuccess) or refused it (outcomeRejected), from its answers: first
// to the page's own request, again to the replay, and forged (asked only
// when needed) to the request with a forged token. It says why. The rules,
// in order:
//  1. a 4xx or 5xx answer to the replay, when the first answer was not one,
//     is a refusal;
//  2. the same status and body as the first answer is an acceptance;
//  3. the same status and body as the forged-token answer is a refusal;
//  4. JSON answers: a boolean field of the first answer that flips, or an
//     error field that appears, is a refusal; none is an acceptance.
//
// Otherwise the outcome is outcomeNone: the answers cannot tell.
func judgeReplay(first, again httpAnswer, forged func() (httpAnswer, error)) (outcome, string) {
	failed := func(a httpAnswer) bool { return a.Status >= 400 }
	switch {
	case first.Status == 0:
		// The page's own answer is unknown; only a status can tell.
		if failed(again) {
			return outcomeRejected, fmt.Sprintf("the backend refused the replay (%v)", again)
		}
	case failed(again) && !failed(first):
		return outcomeRejected, fmt.Sprintf("the backend refused the replay (%v) after accepting the page's request (%v)", again, first)
	case failed(first) && !failed(again):
		return outcomeSuccess, fmt.Sprintf("the backend accepted the replay (%v) after refusing the page's own request (%v)", again, first)
	case failed(first) && failed(again):
		return outcomeRejected, fmt.Sprintf("the backend refused the replay (%v), as it refused the page's own request (%v)", again, first)
	case again.Status == first.Status && bytes.Equal(again.Body, first.Body):
		return outcomeSuccess, fmt.Sprintf("the backend answered the replay exactly as it answered the page's request (%v)", again)
	}
	if forged != nil {
		if f, err := forged(); err == nil && f.Status == again.Status && bytes.Equal(f.Body, again.Body) {
			return outcomeRejected, fmt.Sprintf("the backend answered the replay as it answers a forged token (%v)", again)
		}
	}
	if first.Status != 0 {
		if o, why, ok := judgeJSON(first, again); ok {
			return o, why
		}
	}
	if again.Status < 400 && first.Status == 0 {
		return outcomeNone, fmt.Sprintf("the page's own answer was not captured, and the replay's (%v) does not say whether the backend accepted it", again)
	}
	return outcomeNone, fmt.Sprintf("the answers do not say whether the backend accepted the replay: the page's request got %v, the replay %v", first, again)
}

// errorFields are JSON fields whose appearance means a refusal.
var errorFields = []string{"error", "errors", "error-codes", "error_codes", "errorCode", "errorMessage"}

// judgeJSON compares two JSON object answers field by field (rule 4 of
// judgeReplay); ok is false when they are not both JSON objects.
func judgeJSON(first, again httpAnswer) (outcome, string, bool) {
	var a, b map[string]any
	if json.Unmarshal(first.Body, &a) != nil || json.Unmarshal(again.Body, &b) != nil || a == nil || b == nil {
		return "", "", false
	}
	for k, v := range a {
		if fv, isBool := v.(bool); isBool {
			if bv, ok := b[k].(bool); !ok || bv != fv {
				return outcomeRejected, fmt.Sprintf("the backend's answer to the replay has %q: %v where the page's request got %v (%v)", k, b[k], fv, again), true
			}
		}
	}
	for _, k := range errorFields {
		if _, had := a[k]; !had {
			if v, has := b[k]; has && v != nil && v != "" && v != false {
				return outcomeRejected, fmt.Sprintf("the backend's answer to the replay carries %q (%v)", k, again), true
			}
		}
	}
	return outcomeSuccess, fmt.Sprintf("the backend answered the replay with the same fields as the page's request (%v, first %v)", again, first), true
}
