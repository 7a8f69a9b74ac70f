package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSON forms of the API types, shared by the admin API, the Dial client and
// fixtures files: durations are Go duration strings ("90s", "3m"), and a v3
// score of 0 is written as 0 (in Go it needs ExactlyZero). TokenSpec's form
// follows from its field table, in specfields.go.

// strictUnmarshal decodes one JSON value into v, refusing unknown fields and
// trailing data, with messages that name the problem.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q: got JSON %s, want %s", typ.Field, typ.Value, typ.Type)
	case errors.Is(err, io.EOF):
		return errors.New("empty body: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: the body ends before the value does")
	}
	return err
}

// parseDuration reads a Go duration string ("90s"), or a bare number of
// nanoseconds, for the named field.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a duration such as \"90s\" or \"3m\"", field, s)
	}
	return d, nil
}

// UnmarshalJSON reads a named token strictly.
func (n *NamedToken) UnmarshalJSON(b []byte) error {
	type plain NamedToken
	var p plain
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	*n = NamedToken(p)
	return nil
}
