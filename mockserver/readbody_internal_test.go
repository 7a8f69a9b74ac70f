package mockserver

import (
	"bytes"
	"io"
	"math"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// readBody reads a body of any Content-Length up to the limit whole, starting
// from a pooled buffer of any capacity (here the pool's 512 bytes), around
// every power of two where buffer growth lands on a size class exactly.
func TestReadBodyAnyLengthFromSmallBuffer(t *testing.T) {
	for p := 1; p <= maxBodyBytes; p *= 2 {
		for _, n := range []int{p - 1, p, p + 1, p + 2} {
			if n > maxBodyBytes {
				continue
			}
			body := bytes.Repeat([]byte{'b'}, n)
			if n > 0 {
				body[n-1] = 'z'
			}
			r := httptest.NewRequest("POST", VerifyPath, bytes.NewReader(body))
			got, err := readBody(r, make([]byte, 0, 512))
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("Content-Length %d: read %d bytes, %v; want the whole body", n, len(got), err)
			}
			// Without a Content-Length the limit reader path gives the same bytes.
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), -1
			if got, err := readBody(r, make([]byte, 0, 512)); err != nil || !bytes.Equal(got, body) {
				t.Fatalf("no Content-Length, %d bytes: read %d bytes, %v", n, len(got), err)
			}
		}
	}
}

// A declared Content-Length beyond the limit, however large, allocates
// nothing for it: the body is read through the size limit.
func TestReadBodyHugeContentLength(t *testing.T) {
	r := httptest.NewRequest("POST", VerifyPath, bytes.NewReader([]byte("a=b")))
	r.ContentLength = math.MaxInt64
	got, err := readBody(r, make([]byte, 0, 512))
	if err != nil || string(got) != "a=b" {
		t.Fatalf("read %q, %v; want the 3-byte body", got, err)
	}
}

// parseForm's fast path gives url.ParseQuery's answer, also when an escape,
// a '+' or a ';' is the first byte, and for more parameters than ParseQuery
// accepts.
func TestParseFormAgreesWithParseQuery(t *testing.T) {
	many := strings.Repeat("a=1&", 10001)
	for _, q := range []string{"%73ecret=x", "+a=b", ";a=b", "a=b;c=d", "a=%zz", "=x&&y=", many} {
		got, err := parseForm(q)
		want, wantErr := url.ParseQuery(q)
		if (err != nil) != (wantErr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("parseForm(%.20q) = %v, %v; url.ParseQuery gives %v, %v", q, len(got), err, len(want), wantErr)
		}
	}
}
