package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
)

// proxyKeys are the keys of the proxy section: where it listens and whom
// it trusts (docs/config.md), then its settings (docs/traffic.md, "The
// proxy's settings").
var proxyKeys = []string{"listen_address", "trusted_proxies", "outage_hold", "response_timeout",
	"max_request_body", "max_held_requests", "maintenance_page", "access_log", "proxy_protocol"}

func (d *decoder) proxy(f *field, p *Proxy) {
	m, ok := d.mapping(f, proxyKeys)
	if !ok {
		return
	}
	if lf := optional(m, "listen_address"); lf != nil {
		d.listenAddress(lf, p)
	}
	trustedBad := false // trusted_proxies has a problem of its own
	if tf := optional(m, "trusted_proxies"); tf != nil {
		before := len(d.errs)
		d.trustedProxies(tf, p)
		trustedBad = len(d.errs) > before
	}
	if hf := optional(m, "outage_hold"); hf != nil {
		if v, ok := d.durationUpTo(hf, 0, MaxOutageHold, "0 turns the hold off"); ok {
			p.OutageHold = v
		}
	}
	if rf := optional(m, "response_timeout"); rf != nil {
		if v, ok := d.durationUpTo(rf, time.Millisecond, MaxResponseTimeout, ""); ok {
			p.ResponseTimeout = v
		}
	}
	if bf := optional(m, "max_request_body"); bf != nil {
		if v, ok := d.size(bf); ok {
			p.MaxRequestBody = v
		}
	}
	if hf := optional(m, "max_held_requests"); hf != nil {
		if n, ok := d.integer(hf, fmt.Sprintf("an integer from 1 to %d", MaxHeldRequests)); ok {
			if n < 1 || n > MaxHeldRequests {
				d.errorf(hf.at, hf.path, "%d is out of range: use 1 to %d", n, MaxHeldRequests)
			} else {
				p.MaxHeldRequests = int(n)
			}
		}
	}
	if pf := optional(m, "maintenance_page"); pf != nil {
		d.maintenancePage(pf, p)
	}
	if af := optional(m, "access_log"); af != nil {
		if v, ok := d.boolean(af); ok {
			p.AccessLog = v
		}
	}
	if pf := optional(m, "proxy_protocol"); pf != nil {
		if v, ok := d.boolean(pf); ok {
			p.ProxyProtocol = v
			if v && len(p.TrustedProxies) == 0 && !trustedBad {
				d.errorf(pf.at, pf.path, "true needs proxy.trusted_proxies: the PROXY protocol is accepted only from the balancers listed there (e.g. trusted_proxies: [10.0.0.5])")
			}
		}
	}
}

func (d *decoder) listenAddress(f *field, p *Proxy) {
	s, ok := d.text(f, "an IP address")
	if !ok {
		return
	}
	if s == "localhost" {
		p.ListenAddress = s
	} else if addr, err := netip.ParseAddr(s); err == nil {
		p.ListenAddress = addr.String()
	} else {
		d.errorf(f.at, f.path, "%q is not an IP address (use e.g. 0.0.0.0, 127.0.0.1, :: or localhost; the port is ports.proxy)", s)
	}
}

func (d *decoder) trustedProxies(f *field, p *Proxy) {
	items, ok := d.sequence(f, "IP addresses or CIDRs (e.g. [10.0.0.0/8, 192.168.1.10])")
	if !ok {
		return
	}
	for _, it := range items {
		s, ok := d.text(it, "an IP address or CIDR")
		if !ok {
			continue
		}
		prefix, ok := parseTrusted(s)
		if !ok {
			d.errorf(it.at, it.path, "%q is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)", s)
			continue
		}
		p.TrustedProxies = append(p.TrustedProxies, prefix)
	}
}

// parseTrusted reads an IP (a /32 or /128 prefix) or a CIDR (masked).
func parseTrusted(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return prefix.Masked(), true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, addr.BitLen()), true
}

// durationUpTo reads a Go duration from lo to hi; lo 0 admits "0" (what
// zero means is zeroNote).
func (d *decoder) durationUpTo(f *field, lo, hi time.Duration, zeroNote string) (time.Duration, bool) {
	if lo > 0 {
		v, ok := d.duration(f)
		if ok && v > hi {
			d.errorf(f.at, f.path, "%s is too long: at most %s", v, hi)
			return 0, false
		}
		return v, ok
	}
	s, ok := d.text(f, "a duration like 500ms, 2s or 1m30s")
	if !ok {
		return 0, false
	}
	if bareNumRE.MatchString(s) && strings.Trim(s, "0.") != "" {
		d.errorf(f.at, f.path, "%q is not a duration (use %ss; %s)", s, s, zeroNote)
		return 0, false
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.errorf(f.at, f.path, "%q is not a duration (use e.g. 500ms, 2s or 1m30s; %s)", s, zeroNote)
	case v < 0:
		d.errorf(f.at, f.path, "%q is negative (%s)", s, zeroNote)
	case v > hi:
		d.errorf(f.at, f.path, "%s is too long: at most %s", v, hi)
	default:
		return v, true
	}
	return 0, false
}

// size reads a size in bytes: an integer, or a number with Docker's units
// b, k, m or g (10m, 1g); 0 is allowed.
func (d *decoder) size(f *field) (int64, bool) {
	if _, isInt := f.node.(*ast.IntegerNode); isInt {
		n, ok := d.integer(f, "a size in bytes, or with a unit like 10m")
		if ok && n < 0 {
			d.errorf(f.at, f.path, "%d is negative (use 0 for no limit)", n)
			return 0, false
		}
		return n, ok
	}
	s, ok := d.text(f, "a size like 10m or 1g")
	if !ok {
		return 0, false
	}
	n, err := parseMemory(s)
	if err != nil {
		d.errorf(f.at, f.path, "%s", strings.Replace(err.Error(), "is not a memory size", "is not a size", 1))
		return 0, false
	}
	return n, true
}

// boolean reads true or false.
func (d *decoder) boolean(f *field) (bool, bool) {
	b, isBool := f.node.(*ast.BoolNode)
	if !isBool {
		d.errorf(f.at, f.path, "expected true or false, got %s", describe(f.node))
		return false, false
	}
	return b.Value, true
}

// maintenancePage reads the file that proxy.maintenance_page names: a
// relative path is relative to the config file's folder. The file must be
// a regular file of at most MaxMaintenancePage bytes of HTML (UTF-8 text
// that begins with a tag, a comment or a doctype).
func (d *decoder) maintenancePage(f *field, p *Proxy) {
	s, ok := d.text(f, "the path of an HTML file")
	if !ok {
		return
	}
	if s == "" {
		d.errorf(f.at, f.path, "is empty: name an HTML file, or leave the key out for the built-in page")
		return
	}
	path := s
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), path)
	}
	page, why := readPage(path)
	if why != "" {
		d.errorf(f.at, f.path, "%q %s", s, why)
		return
	}
	p.MaintenancePage, p.MaintenanceHTML = s, page
}

// readPage reads a maintenance page, or says why it cannot be one. A FIFO
// or a device is refused without blocking on it.
func readPage(path string) ([]byte, string) {
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, "does not exist"
		case errors.Is(err, fs.ErrPermission):
			return nil, "cannot be read: permission denied"
		}
		return nil, fmt.Sprintf("cannot be read: %v", unwrapPath(err))
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Sprintf("cannot be read: %v", unwrapPath(err))
	}
	if info.IsDir() {
		return nil, "is a folder: name an HTML file"
	}
	if !info.Mode().IsRegular() {
		return nil, "is not a regular file: name an HTML file"
	}
	page, err := io.ReadAll(io.LimitReader(file, MaxMaintenancePage+1))
	if err != nil {
		return nil, fmt.Sprintf("cannot be read: %v", unwrapPath(err))
	}
	if len(page) > MaxMaintenancePage {
		return nil, fmt.Sprintf("is larger than %d bytes (1 MiB): keep the page small", MaxMaintenancePage)
	}
	if why := checkHTML(page); why != "" {
		return nil, why
	}
	return page, ""
}

// checkHTML says why page is not an HTML page, or "".
func checkHTML(page []byte) string {
	text := bytes.TrimSpace(bytes.TrimPrefix(page, []byte("\ufeff")))
	switch {
	case len(text) == 0:
		return "is empty: write an HTML page (<!doctype html>…)"
	case !utf8.Valid(page) || bytes.IndexByte(page, 0) >= 0:
		return "is not text: write an HTML page in UTF-8"
	case text[0] != '<' || len(text) < 2 || !(text[1] == '!' || isLetter(text[1])):
		return "does not look like HTML: it must begin with <!doctype html>, <html> or another tag"
	}
	return ""
}

func isLetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }
