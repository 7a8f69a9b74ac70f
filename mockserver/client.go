package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client drives a mock over its admin API, for a mock in another process
// (`siteverify serve`). It implements Mock.
type Client struct {
	base       string
	adminToken string
	http       *http.Client
	site       Site
}

// DialOptions configures Dial.
type DialOptions struct {
	// AdminToken is sent as a bearer token when set.
	AdminToken string
	// HTTPClient is used for admin calls; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Dial connects to a running mock at baseURL (e.g. "http://127.0.0.1:8089"),
// checks it answers, and fetches its default site.
func Dial(ctx context.Context, baseURL string, opts DialOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dial mock: %q is not an http(s) base URL such as http://127.0.0.1:8089", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), adminToken: opts.AdminToken, http: opts.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{Timeout: 10 * time.Second}
	}
	var sites struct {
		Default Site `json:"default"`
	}
	if err := c.do(ctx, http.MethodGet, "sites", nil, &sites); err != nil {
		return nil, fmt.Errorf("dial mock at %s: %w", c.base, err)
	}
	c.site = sites.Default
	return c, nil
}

// URL implements Mock.
func (c *Client) URL() string { return c.base }

// VerifyURL implements Mock.
func (c *Client) VerifyURL() string { return c.base + c.site.Kind.Provider().verifyPath }

// Site implements Mock; it is the default site as of Dial.
func (c *Client) Site() Site { return c.site }

// Issue implements Mock.
func (c *Client) Issue(ctx context.Context, spec TokenSpec) (Issued, error) {
	var out Issued
	return out, c.do(ctx, http.MethodPost, "tokens", spec, &out)
}

// AddSite implements Mock.
func (c *Client) AddSite(ctx context.Context, site Site) (Site, error) {
	var out Site
	return out, c.do(ctx, http.MethodPost, "sites", site, &out)
}

// Advance implements Mock.
func (c *Client) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	var out clockJSON
	err := c.do(ctx, http.MethodPost, "clock", map[string]string{"advance": d.String()}, &out)
	return out.Now, err
}

// Journal implements Mock. It fetches the journal a page at a time.
func (c *Client) Journal(ctx context.Context) (Journal, error) { return c.JournalSince(ctx, 0) }

// JournalSince implements Mock; only the new entries cross the wire, a page
// at a time (see DefaultJournalPage). It returns the entries that were there
// when it asked for the first page (and any newer ones that came along in
// the last page), so it ends even while requests keep arriving.
func (c *Client) JournalSince(ctx context.Context, seq uint64) (Journal, error) {
	var all Journal
	var target uint64 // the newest sequence number when paging started
	for first := true; ; first = false {
		var page Journal
		path := "requests?since=" + strconv.FormatUint(seq, 10) + "&limit=" + strconv.Itoa(MaxJournalPage)
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return Journal{}, err
		}
		if all.Entries == nil {
			all.Entries = page.Entries
		} else {
			all.Entries = append(all.Entries, page.Entries...)
		}
		all.Dropped, all.Capacity, all.Received = page.Dropped, page.Capacity, page.Received
		if first {
			target = page.Received
		}
		if !page.More || len(page.Entries) == 0 {
			return all, nil
		}
		last := page.Entries[len(page.Entries)-1].Seq
		if last <= seq || last >= target {
			return all, nil // no progress (never), or caught up with the start
		}
		seq = last
	}
}

// ClearJournal implements Mock.
func (c *Client) ClearJournal(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "requests", nil, nil)
}

// AddRule implements Mock.
func (c *Client) AddRule(ctx context.Context, r Rule) (Rule, error) {
	var out Rule
	return out, c.do(ctx, http.MethodPost, "rules", r, &out)
}

// RemoveRule implements Mock.
func (c *Client) RemoveRule(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "rules/"+url.PathEscape(id), nil, nil)
}

// ClearRules implements Mock.
func (c *Client) ClearRules(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "rules", nil, nil)
}

// Reset implements Mock.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "reset", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+AdminPrefix+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.adminToken)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
