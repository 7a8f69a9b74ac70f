package mockserver

import (
	"bytes"
	"io"
	"net/http/httptest"
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
