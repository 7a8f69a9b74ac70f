package mockserver

import (
	"math/rand/v2"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// FuzzParseForm checks parseForm against url.ParseQuery.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"", "a=b", "secret=x&response=03Aabc", "=v", "a", "a=&b", "&&a=1&a=2", "a=%41", "a=+", "a;b=c", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := parseForm(q)
		want, werr := url.ParseQuery(q)
		if (err != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseForm(%q) = %v, %v; url.ParseQuery = %v, %v", q, got, err, want, werr)
		}
	})
}

// TestAppendTimestamp checks appendTimestamp against time.Format.
func TestAppendTimestamp(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("x", 3600)),
	}
	for range 10000 {
		times = append(times, time.Unix(rand.Int64N(1<<36)-1<<35, rand.Int64N(1e9)))
	}
	for _, tm := range times {
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05Z") + `"`
		if got := string(appendTimestamp(nil, tm)); got != want {
			t.Fatalf("appendTimestamp(%v) = %s, want %s", tm, got, want)
		}
	}
}
