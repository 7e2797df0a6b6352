package rawjson

import (
	"reflect"
	"testing"
)

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in   string
		want int // index after the value at 0
	}{
		{`"abc",`, 5},
		{`"a\"b\\"}`, 8},
		{`"unterminated`, -1},
		{`"ends in escape\`, -1},
		{`{"a":[1,"]",{"b":"}"}]},`, 23},
		{`[[[]]]x`, 6},
		{`[1,2`, -1},
		{`{"a":"}`, -1},
		{`123 ,`, 3},
		{`-1.5e3}`, 6},
		{`true]`, 4},
		{`null`, 4},
		{`,`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		if got := SkipValue([]byte(tt.in), 0); got != tt.want {
			t.Errorf("SkipValue(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if got := SkipSpace([]byte(" \t\r\nx"), 0); got != 4 {
		t.Errorf("SkipSpace = %d", got)
	}
	if got := SkipSpace([]byte("  "), 1); got != 2 {
		t.Errorf("SkipSpace at the end = %d", got)
	}
}

func TestDescribe(t *testing.T) {
	var cfg struct {
		S  string
		B  bool
		I  int
		F  float64
		SS []string
		A  []any
		M  map[string]string
		O  map[string]any
		P  *struct{ X int }
		PI *int
	}
	want := []string{"a string", "true or false", "an integer", "a number", "an array of strings", "an array",
		"an object of string values", "an object", "an object", "an integer"}
	rt := reflect.TypeOf(cfg)
	for i, w := range want {
		if got := Describe(rt.Field(i).Type); got != w {
			t.Errorf("Describe(%s) = %q, want %q", rt.Field(i).Type, got, w)
		}
	}
}
