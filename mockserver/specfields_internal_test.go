package mockserver

import (
	"reflect"
	"testing"
	"time"
)

// Every field of TokenSpec is described exactly once, so none can be left
// out of the JSON form or the fixtures format.
func TestTokenSpecFieldsCoverTheStruct(t *testing.T) {
	var spec TokenSpec
	v := reflect.ValueOf(&spec).Elem()
	described := map[string]string{} // Go field name -> wire name
	for _, f := range tokenSpecFields {
		p := reflect.ValueOf(f.ptr(&spec)).Pointer()
		found := false
		for i := range v.NumField() {
			if v.Field(i).Addr().Pointer() == p && v.Field(i).Addr().Type() == reflect.TypeOf(f.ptr(&spec)) {
				goName := v.Type().Field(i).Name
				if prev, dup := described[goName]; dup {
					t.Errorf("TokenSpec.%s is described twice, as %s and %s", goName, prev, f.Name)
				}
				described[goName] = f.Name
				found = true
			}
		}
		if !found || f.Type == "" || f.Doc == "" {
			t.Errorf("%s: points at no TokenSpec field, or has no type or doc", f.Name)
		}
	}
	for i := range v.NumField() {
		if _, ok := described[v.Type().Field(i).Name]; !ok {
			t.Errorf("TokenSpec.%s has no entry in tokenSpecFields", v.Type().Field(i).Name)
		}
	}
}

// Set takes the field's Go type and refuses any other, leaving the spec
// unchanged.
func TestSpecFieldSet(t *testing.T) {
	values := map[string]any{"string": "x", "kind": V2Checkbox, "score": 0.25, "bool": true,
		"duration": time.Minute, "time": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, f := range TokenSpecFields() {
		var spec TokenSpec
		if err := f.Set(&spec, 42); err == nil || spec != (TokenSpec{}) {
			t.Errorf("%s: Set(42) = %v, spec %+v; want an error and no change", f.Name, err, spec)
		}
		if err := f.Set(&spec, values[f.Type]); err != nil {
			t.Errorf("%s: Set(%v): %v", f.Name, values[f.Type], err)
		}
		if got, _ := f.toJSON(&spec); got == nil {
			t.Errorf("%s: Set(%v) left the field empty", f.Name, values[f.Type])
		}
	}
}
