package http1

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestCopyChunkedMax(t *testing.T) {
	body := "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n" // 7 data bytes
	tests := []struct {
		limit int64
		err   error
		out   string // what reached dst (chunks re-encoded)
	}{
		{limit: 0, out: body},
		{limit: 7, out: body},
		{limit: 6, err: ErrBodyTooLarge, out: "3\r\nabc\r\n"},
		{limit: 2, err: ErrBodyTooLarge, out: ""},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		rerr, werr := CopyChunkedMax(bw, bufio.NewReader(strings.NewReader(body)), false, tt.limit)
		bw.Flush()
		if rerr != tt.err || werr != nil {
			t.Errorf("limit %d: rerr %v werr %v, want %v", tt.limit, rerr, werr, tt.err)
		}
		if out.String() != tt.out {
			t.Errorf("limit %d: copied %q, want %q", tt.limit, out.String(), tt.out)
		}
	}
}
