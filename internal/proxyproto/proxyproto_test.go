package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

const next = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" // what follows the header

var (
	client4 = netip.MustParseAddrPort("203.0.113.7:51234")
	server4 = netip.MustParseAddrPort("10.0.0.5:443")
	client6 = netip.MustParseAddrPort("[2001:db8::7]:51234")
	server6 = netip.MustParseAddrPort("[2001:db8::5]:443")
)

func v2(h Header, tlvs ...byte) string { return string(AppendV2(nil, h, tlvs)) }

// tlv encodes one TLV.
func tlv(typ byte, v string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
}

// withCRC returns a v2 header of h with TLVs and a CRC32C TLV, its value
// computed (good) or not (bad).
func withCRC(h Header, good bool, tlvs ...byte) string {
	b := AppendV2(nil, h, append(tlvs, tlvCRC32C, 0, 4, 0, 0, 0, 0))
	if good {
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b, castagnoli))
	}
	return string(b)
}

// rawV2 builds a v2 header from its parts as given.
func rawV2(verCmd, fam byte, block []byte) string {
	b := append(append([]byte{}, sigV2...), verCmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return string(append(b, block...))
}

var validHeaders = []struct {
	name, hdr string
	want      Header
}{
	{"v1 tcp4", "PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\r\n", Header{Version: 1, Source: client4, Destination: server4}},
	{"v1 tcp6 compressed", "PROXY TCP6 2001:db8::7 2001:db8::5 51234 443\r\n", Header{Version: 1, Source: client6, Destination: server6}},
	{"v1 tcp6 expanded", "PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0007 2001:db8::5 51234 443\r\n", Header{Version: 1, Source: client6, Destination: server6}},
	{"v1 port 0 and 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", Header{Version: 1, Source: netip.MustParseAddrPort("1.2.3.4:0"), Destination: netip.MustParseAddrPort("5.6.7.8:65535")}},
	{"v1 unknown short", "PROXY UNKNOWN\r\n", Header{Version: 1, Local: true}},
	{"v1 unknown with addresses", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", Header{Version: 1, Local: true}},
	{"v2 tcp4", v2(Header{Source: client4, Destination: server4}), Header{Version: 2, Source: client4, Destination: server4}},
	{"v2 tcp6", v2(Header{Source: client6, Destination: server6}), Header{Version: 2, Source: client6, Destination: server6}},
	{"v2 local", v2(Header{Local: true}), Header{Version: 2, Local: true}},
	{"v2 local with an address block", rawV2(0x20, 0x11, make([]byte, 12)), Header{Version: 2, Local: true}},
	{"v2 with TLVs", v2(Header{Source: client4, Destination: server4}, append(append(tlv(0x01, "h2"), tlv(0x04, "")...), tlv(0xEA, "vpce-0123456789abcdef")...)...), Header{Version: 2, Source: client4, Destination: server4}},
	{"v2 with a good CRC32C", withCRC(Header{Source: client6, Destination: server6}, true, tlv(0x05, "id-1")...), Header{Version: 2, Source: client6, Destination: server6}},
	{"v2 udp: the connection's addresses", rawV2(0x21, 0x12, make([]byte, 12)), Header{Version: 2, Local: true}},
	{"v2 unix: the connection's addresses", rawV2(0x21, 0x31, make([]byte, 216)), Header{Version: 2, Local: true}},
	{"v2 unspec: the connection's addresses", rawV2(0x21, 0x00, nil), Header{Version: 2, Local: true}},
}

var invalidHeaders = []struct{ name, hdr string }{
	{"garbage", "GET / HTTP/1.1\r\n\r\n"},
	{"empty line", "\r\n"},
	{"lower-case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
	{"wrong v2 signature", "\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + strings.Repeat("\x00", 12)},
	{"v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"},
	{"v1 bare CR", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"},
	{"v1 two spaces", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"},
	{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"},
	{"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"},
	{"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"},
	{"v1 unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"},
	{"v1 heading zero in an address", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"},
	{"v1 heading zero in a port", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"},
	{"v1 port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"},
	{"v1 tcp4 with an ipv6 address", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n"},
	{"v1 tcp6 with an ipv4 address", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n"},
	{"v1 tcp6 with a dotted tail", "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"},
	{"v1 tcp6 with a zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"},
	{"v1 control byte", "PROXY UNKNOWN \x00\r\n"},
	{"v1 non-ascii", "PROXY UNKNOWN caf\xc3\xa9\r\n"},
	{"v1 line over 107 bytes", "PROXY UNKNOWN " + strings.Repeat("f", 92) + "\r\n"},
	{"v1 no CRLF within 107 bytes", "PROXY TCP4 " + strings.Repeat("1", 120)},
	{"v2 version 1", rawV2(0x11, 0x11, make([]byte, 12))},
	{"v2 command 2", rawV2(0x22, 0x11, make([]byte, 12))},
	{"v2 family 4", rawV2(0x21, 0x41, make([]byte, 12))},
	{"v2 protocol 3", rawV2(0x21, 0x13, make([]byte, 12))},
	{"v2 tcp4 with a short address block", rawV2(0x21, 0x11, make([]byte, 11))},
	{"v2 tcp6 with a short address block", rawV2(0x21, 0x21, make([]byte, 12))},
	{"v2 a cut TLV", v2(Header{Source: client4, Destination: server4}, 0x01, 0x00)},
	{"v2 a TLV longer than the header", v2(Header{Source: client4, Destination: server4}, 0x01, 0x00, 0x05, 'h', '2')},
	{"v2 a bad CRC32C", withCRC(Header{Source: client4, Destination: server4}, false)},
	{"v2 a CRC32C of 3 bytes", v2(Header{Source: client4, Destination: server4}, tlvCRC32C, 0, 3, 1, 2, 3)},
	{"v2 longer than MaxV2", rawV2(0x21, 0x11, make([]byte, MaxV2))},
}

func TestParse(t *testing.T) {
	for _, tt := range validHeaders {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse([]byte(tt.hdr + next))
			if err != nil || n != len(tt.hdr) || h != tt.want {
				t.Fatalf("got %+v, %d, %v; want %+v, %d", h, n, err, tt.want, len(tt.hdr))
			}
			// Every shorter piece is a valid beginning that needs more.
			for i := range len(tt.hdr) {
				if _, _, err := Parse([]byte(tt.hdr[:i])); err != ErrIncomplete {
					t.Fatalf("the first %d bytes: %v, want ErrIncomplete", i, err)
				}
			}
		})
	}
	for _, tt := range invalidHeaders {
		t.Run(tt.name, func(t *testing.T) {
			if h, n, err := Parse([]byte(tt.hdr + next)); err != ErrInvalid {
				t.Fatalf("got %+v, %d, %v; want ErrInvalid", h, n, err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	for _, tt := range validHeaders {
		t.Run(tt.name+" one byte per read", func(t *testing.T) {
			br := bufio.NewReader(iotest.OneByteReader(strings.NewReader(tt.hdr + next)))
			h, err := Read(br)
			if err != nil || h != tt.want {
				t.Fatalf("got %+v, %v; want %+v", h, err, tt.want)
			}
			if rest, _ := io.ReadAll(br); string(rest) != next {
				t.Fatalf("left %q, want the request", rest)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		for _, hdr := range []string{"PROXY TCP4 1.2.3.4 5.6", v2(Header{Source: client6, Destination: server6})[:30], "\r\n\r\n"} {
			if _, err := Read(bufio.NewReader(strings.NewReader(hdr))); err != io.ErrUnexpectedEOF {
				t.Errorf("%q: %v, want io.ErrUnexpectedEOF", hdr, err)
			}
		}
	})
	t.Run("nothing", func(t *testing.T) {
		if _, err := Read(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
			t.Errorf("%v, want io.EOF", err)
		}
	})
	t.Run("a reader's error", func(t *testing.T) {
		boom := errors.New("boom")
		r := io.MultiReader(strings.NewReader("PROXY TCP4 "), iotest.ErrReader(boom))
		if _, err := Read(bufio.NewReader(r)); err != boom {
			t.Errorf("%v, want boom", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, tt := range invalidHeaders {
			if _, err := Read(bufio.NewReader(strings.NewReader(tt.hdr + next))); err != ErrInvalid {
				t.Errorf("%s: %v, want ErrInvalid", tt.name, err)
			}
		}
	})
}

func TestAppend_roundTrip(t *testing.T) {
	for _, h := range []Header{
		{Source: client4, Destination: server4},
		{Source: client6, Destination: server6},
		{Source: netip.MustParseAddrPort("[::ffff:1.2.3.4]:1"), Destination: server6},
		{Local: true},
	} {
		for v, b := range map[int][]byte{1: AppendV1(nil, h), 2: AppendV2(nil, h, nil)} {
			got, n, err := Parse(b)
			h.Version = v
			if err != nil || n != len(b) || got != h {
				t.Errorf("v%d %q: got %+v, %d, %v; want %+v", v, b, got, n, err, h)
			}
		}
	}
}

// FuzzParse: Parse never panics, reads no further than its header, and a
// header it takes is taken alone, with every shorter piece ErrIncomplete;
// what it says survives a round trip through the encoders.
func FuzzParse(f *testing.F) {
	for _, tt := range validHeaders {
		f.Add([]byte(tt.hdr + next))
	}
	for _, tt := range invalidHeaders {
		f.Add([]byte(tt.hdr))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if err != ErrInvalid && err != ErrIncomplete {
				t.Fatalf("error %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) || h.Version == 1 && n > MaxV1 || n > MaxV2 {
			t.Fatalf("length %d of %d bytes (version %d)", n, len(b), h.Version)
		}
		if h2, n2, err := Parse(b[:n]); err != nil || n2 != n || h2 != h {
			t.Fatalf("the header alone: %+v %d %v, with more: %+v %d", h2, n2, err, h, n)
		}
		if _, _, err := Parse(b[:n-1]); err != ErrIncomplete {
			t.Fatalf("one byte short: %v", err)
		}
		if h.Local {
			return
		}
		if h.Source.Addr().Is4() != h.Destination.Addr().Is4() {
			t.Fatalf("mixed families: %+v", h)
		}
		for v, enc := range map[int][]byte{1: AppendV1(nil, h), 2: AppendV2(nil, h, nil)} {
			got, _, err := Parse(enc)
			if err != nil || got.Source != h.Source || got.Destination != h.Destination || bytes.Contains(enc[:len(enc)-2], []byte("\r\n")) && v == 1 {
				t.Fatalf("round trip v%d: %+v %v, want %+v", v, got, err, h)
			}
		}
	})
}
