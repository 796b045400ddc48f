package deploy

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorCode(t *testing.T) {
	e := &Error{Code: EINVALIDCONFIG, Message: "2 problems", Details: []string{"a", "b"}}
	for _, tt := range []struct {
		err  error
		code Code
	}{
		{nil, ""},
		{Errorf(ENOTFOUND, "no app named %q", "web"), ENOTFOUND},
		{fmt.Errorf("read: %w", Errorf(EDOCKERUNAVAILABLE, "docker down")), EDOCKERUNAVAILABLE},
		{e, EINVALIDCONFIG},
		{&Error{Message: "no code"}, EINTERNAL},
		{errors.New("disk on fire"), EINTERNAL},
	} {
		if got := ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
	}
	if d := ErrorDetails(fmt.Errorf("reload: %w", e)); len(d) != 2 {
		t.Errorf("details %q", d)
	}
	if Errorf(ECONFLICT, "%s is busy", "web").Error() != "web is busy" {
		t.Error("the message is the error's text")
	}
}
