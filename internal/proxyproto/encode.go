package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// AppendV1 appends h as a version 1 line: TCP4 when both addresses are
// IPv4, else TCP6 (in full hex groups); "PROXY UNKNOWN" when h.Local.
func AppendV1(b []byte, h Header) []byte {
	b = append(b, sigV1...)
	if h.Local {
		return append(b, "UNKNOWN\r\n"...)
	}
	src, dst := h.Source.Addr(), h.Destination.Addr()
	if src.Is4() && dst.Is4() {
		b = append(b, "TCP4 "...)
		b = append(append(append(b, src.String()...), ' '), dst.String()...)
	} else {
		b = append(b, "TCP6 "...)
		b = append(append(append(b, as6(src).StringExpanded()...), ' '), as6(dst).StringExpanded()...)
	}
	b = append(strconv.AppendUint(append(b, ' '), uint64(h.Source.Port()), 10), ' ')
	b = strconv.AppendUint(b, uint64(h.Destination.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends h as a version 2 header (LOCAL when h.Local), with
// tlvs (whole TLVs) after the addresses.
func AppendV2(b []byte, h Header, tlvs []byte) []byte {
	b = append(b, sigV2...)
	if h.Local {
		b = append(b, 0x20, 0x00)
		b = binary.BigEndian.AppendUint16(b, uint16(len(tlvs)))
		return append(b, tlvs...)
	}
	src, dst := h.Source.Addr(), h.Destination.Addr()
	if src.Is4() && dst.Is4() {
		b = append(b, 0x21, famInet<<4|protoStream)
		b = binary.BigEndian.AppendUint16(b, uint16(12+len(tlvs)))
		s, d := src.As4(), dst.As4()
		b = append(append(b, s[:]...), d[:]...)
	} else {
		b = append(b, 0x21, famInet6<<4|protoStream)
		b = binary.BigEndian.AppendUint16(b, uint16(36+len(tlvs)))
		s, d := src.As16(), dst.As16()
		b = append(append(b, s[:]...), d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, h.Source.Port())
	b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	return append(b, tlvs...)
}

// as6 returns a as a 16-byte address.
func as6(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }
