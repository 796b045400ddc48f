// Package proxyproto reads the PROXY protocol header (versions 1 and 2)
// that an L4 load balancer puts before a connection's first byte to name
// the client it relays (HAProxy's "The PROXY protocol", proxy-protocol.txt).
// It is security-critical: the header decides the address the proxy
// believes. The parser is as strict as the HTTP codec: anything that does
// not match the specification exactly is ErrInvalid, never repaired, and
// the caller drops the connection (docs/traffic.md, "PROXY protocol").
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/netip"
)

// Limits.
const (
	// MaxV1 is the longest version 1 header, CRLF included.
	MaxV1 = 107
	// MaxV2 bounds a version 2 header, TLVs included: 16 bytes and up to
	// 4080 of addresses and TLVs. The specification allows 64 KiB; load
	// balancers send a few dozen bytes of TLVs.
	MaxV2 = 4096
)

// Errors of Parse and Read.
var (
	// ErrInvalid: the bytes are no valid PROXY protocol header.
	ErrInvalid = errors.New("invalid PROXY protocol header")
	// ErrIncomplete: the bytes are a valid beginning of a header that
	// needs more of them.
	ErrIncomplete = errors.New("incomplete PROXY protocol header")
)

// Header is a parsed PROXY protocol header.
type Header struct {
	Version int // 1 or 2
	// Local: the header names no client (v2 LOCAL, v1 UNKNOWN, or a
	// family other than TCP over IPv4 or IPv6): the connection's own
	// addresses are the ones to use.
	Local bool
	// Source and Destination are the relayed connection's ends (the client
	// and the address it connected to), when not Local.
	Source, Destination netip.AddrPort
}

// The version 2 signature, and what a version 1 header begins with.
var (
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
	sigV1 = []byte("PROXY ")
)

// Parse parses the header at the start of b and returns it with its
// length. It returns ErrIncomplete when b is too short to decide but is a
// valid beginning of a header, ErrInvalid otherwise. Its work is linear in
// the header's length.
func Parse(b []byte) (h Header, n int, err error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrIncomplete
	case b[0] == sigV2[0]:
		return parseV2(b)
	case b[0] == sigV1[0]:
		return parseV1(b)
	}
	return Header{}, 0, ErrInvalid
}

// Read reads a header from br and leaves br at the first byte after it. An
// error of br (a deadline, the end of the stream) is returned as it is,
// io.ErrUnexpectedEOF for the end within a header; bytes that are no
// header are ErrInvalid.
func Read(br *bufio.Reader) (Header, error) {
	n := 1
	for {
		b, rerr := br.Peek(n)
		if len(b) < br.Buffered() {
			b, _ = br.Peek(br.Buffered())
		}
		h, size, err := Parse(b)
		switch {
		case err == nil:
			br.Discard(size)
			return h, nil
		case err != ErrIncomplete:
			return Header{}, err
		case rerr == io.EOF && len(b) > 0:
			return Header{}, io.ErrUnexpectedEOF
		case rerr != nil:
			return Header{}, rerr
		}
		n = len(b) + 1 // Parse asks for more: wait for at least one byte
	}
}

// prefixOf reports whether b (shorter than sig) begins sig.
func prefixOf(b, sig []byte) bool { return len(b) < len(sig) && bytes.HasPrefix(sig, b) }

// parseV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or
// "PROXY UNKNOWN[ anything]\r\n".
func parseV1(b []byte) (Header, int, error) {
	if len(b) < len(sigV1) {
		if prefixOf(b, sigV1) {
			return Header{}, 0, ErrIncomplete
		}
		return Header{}, 0, ErrInvalid
	}
	if !bytes.HasPrefix(b, sigV1) {
		return Header{}, 0, ErrInvalid
	}
	end := -1
	for i, c := range b[:min(len(b), MaxV1)] {
		if c == '\n' {
			end = i
			break
		}
		if c < ' ' && c != '\r' || c > '~' {
			return Header{}, 0, ErrInvalid // US-ASCII text only
		}
	}
	if end < 0 {
		if len(b) >= MaxV1 {
			return Header{}, 0, ErrInvalid // no CRLF in the first 107 bytes
		}
		return Header{}, 0, ErrIncomplete
	}
	line := b[len(sigV1):end]
	if len(line) == 0 || line[len(line)-1] != '\r' || bytes.IndexByte(line[:len(line)-1], '\r') >= 0 {
		return Header{}, 0, ErrInvalid // a bare LF or CR
	}
	line = line[:len(line)-1]
	h := Header{Version: 1}
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(proto) {
	case "UNKNOWN":
		h.Local = true // the rest of the line is ignored
		return h, end + 1, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, ErrInvalid
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		if f[i], rest, ok = bytes.Cut(rest, []byte(" ")); ok != (i < 3) || len(f[i]) == 0 {
			return Header{}, 0, ErrInvalid // exactly one space between fields
		}
	}
	v6 := proto[3] == '6'
	src, ok1 := parseV1Addr(f[0], v6)
	dst, ok2 := parseV1Addr(f[1], v6)
	sport, ok3 := parsePort(f[2])
	dport, ok4 := parsePort(f[3])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Header{}, 0, ErrInvalid
	}
	h.Source, h.Destination = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	return h, end + 1, nil
}

// parseV1Addr parses an address of a v1 header: dotted decimal IPv4
// without heading zeros (TCP4), or IPv6 in hex groups and colons (TCP6).
func parseV1Addr(b []byte, v6 bool) (netip.Addr, bool) {
	for _, c := range b {
		hex := '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':'
		if v6 && !hex || !v6 && !('0' <= c && c <= '9' || c == '.') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(string(b)) // refuses heading zeros in IPv4
	if err != nil || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a, true
}

// parsePort parses a decimal port without heading zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || b[0] == '0' && len(b) > 1 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// Version 2: commands, and the sizes of the address block per family.
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoStream = 0x1

	tlvCRC32C = 0x03
)

var addrLen = [4]int{famUnspec: 0, famInet: 12, famInet6: 36, famUnix: 216}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// parseV2 parses the binary header: signature, version and command,
// family and protocol, length, addresses, TLVs.
func parseV2(b []byte) (Header, int, error) {
	if len(b) < len(sigV2) {
		if prefixOf(b, sigV2) {
			return Header{}, 0, ErrIncomplete
		}
		return Header{}, 0, ErrInvalid
	}
	if !bytes.HasPrefix(b, sigV2) {
		return Header{}, 0, ErrInvalid
	}
	// Each byte is checked as soon as it is there.
	if len(b) > 12 && (b[12]>>4 != 2 || b[12]&0xf > cmdProxy) {
		return Header{}, 0, ErrInvalid
	}
	if len(b) > 13 && (b[13]>>4 > famUnix || b[13]&0xf > 2) {
		return Header{}, 0, ErrInvalid
	}
	if len(b) < 16 {
		return Header{}, 0, ErrIncomplete
	}
	verCmd, fam := b[12], b[13]
	family, proto := int(fam>>4), int(fam&0xf)
	n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	switch {
	case n > MaxV2:
		return Header{}, 0, ErrInvalid
	case len(b) < n:
		return Header{}, 0, ErrIncomplete
	}
	h := Header{Version: 2, Local: true}
	if verCmd&0xf == cmdLocal {
		return h, n, nil // the address block is ignored
	}
	block := b[16:n]
	al := addrLen[family]
	if len(block) < al || !validTLVs(b[:n], 16+al) {
		return Header{}, 0, ErrInvalid
	}
	if proto != protoStream || family != famInet && family != famInet6 {
		return h, n, nil // not TCP: use the connection's own addresses
	}
	h.Local = false
	ports := block[al-4:]
	if family == famInet {
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[0:4])), binary.BigEndian.Uint16(ports[0:2]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(block[4:8])), binary.BigEndian.Uint16(ports[2:4]))
	} else {
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[0:16])), binary.BigEndian.Uint16(ports[0:2]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(block[16:32])), binary.BigEndian.Uint16(ports[2:4]))
	}
	return h, n, nil
}

// validTLVs checks the TLVs of the whole header hdr from offset off: each
// whole, none beyond the header, and a CRC32C one matching the header.
func validTLVs(hdr []byte, off int) bool {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return false
		}
		typ, l := hdr[off], int(binary.BigEndian.Uint16(hdr[off+1:off+3]))
		v := off + 3
		if l > len(hdr)-v {
			return false
		}
		if typ == tlvCRC32C {
			if l != 4 {
				return false
			}
			crc := crc32.Update(0, castagnoli, hdr[:v])
			crc = crc32.Update(crc, castagnoli, []byte{0, 0, 0, 0})
			crc = crc32.Update(crc, castagnoli, hdr[v+4:])
			if crc != binary.BigEndian.Uint32(hdr[v:v+4]) {
				return false
			}
		}
		off = v + l
	}
	return true
}
