package config

import (
	"errors"
	"testing"
)

func TestError_Error(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{File: "apps.d/web.yaml", Line: 9, Col: 13, Field: "health_check.interval", Msg: `"2" is not a duration (use 2s)`},
			`apps.d/web.yaml:9:13: health_check.interval: "2" is not a duration (use 2s)`},
		{"no field", &Error{File: "a.yaml", Line: 1, Col: 1, Msg: "file is empty"}, "a.yaml:1:1: file is empty"},
		{"no place", &Error{File: "apps.d", Msg: "does not exist"}, "apps.d: does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrors_Error(t *testing.T) {
	t.Run("sorted one per line", func(t *testing.T) {
		errs := Errors{
			{File: "b.yaml", Line: 1, Col: 1, Msg: "b1"},
			{File: "a.yaml", Line: 3, Col: 2, Msg: "a3"},
			{File: "a.yaml", Line: 3, Col: 1, Msg: "a3first"},
			{File: "a.yaml", Line: 10, Col: 1, Msg: "a10"},
		}
		err := errs.err()
		want := "a.yaml:3:1: a3first\na.yaml:3:2: a3\na.yaml:10:1: a10\nb.yaml:1:1: b1"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %q", err, want)
		}
		var back Errors
		if !errors.As(err, &back) || len(back) != 4 {
			t.Errorf("errors.As to Errors failed: %v", back)
		}
	})
	t.Run("none is nil", func(t *testing.T) {
		if err := Errors(nil).err(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}
