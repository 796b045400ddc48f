package config

import (
	"net/netip"
	"strings"
)

// The keys of the ports and proxy sections.
var (
	portKeys  = []string{"proxy", "blue", "green"}
	proxyKeys = []string{"listen_address", "trusted_proxies"}
)

func (d *decoder) ports(f *field, p *Ports) {
	m, ok := d.mapping(f, portKeys)
	if !ok {
		return
	}
	hints := map[string]string{
		"proxy": "the app's public port, where the proxy listens",
		"blue":  "the host port of the blue container",
		"green": "the host port of the green container",
	}
	dst := map[string]*int{"proxy": &p.Proxy, "blue": &p.Blue, "green": &p.Green}
	seen := map[int]string{}
	for _, key := range portKeys {
		pf := d.need(m, f, key, hints[key])
		if pf == nil {
			continue
		}
		n, ok := d.port(pf)
		if !ok {
			continue
		}
		if other, dup := seen[n]; dup {
			d.errorf(pf.at, pf.path, "%d is also ports.%s: proxy, blue and green must be three different ports", n, other)
			continue
		}
		seen[n] = key
		*dst[key] = n
	}
}

// port reads a TCP port number, 1-65535.
func (d *decoder) port(f *field) (int, bool) {
	n, ok := d.integer(f, "a port number (1-65535)")
	if !ok {
		return 0, false
	}
	if n < 1 || n > 65535 {
		d.errorf(f.at, f.path, "%d is not a port number (1-65535)", n)
		return 0, false
	}
	return int(n), true
}

func (d *decoder) proxy(f *field, p *Proxy) {
	m, ok := d.mapping(f, proxyKeys)
	if !ok {
		return
	}
	if lf := optional(m, "listen_address"); lf != nil {
		if s, ok := d.text(lf, "an IP address"); ok {
			if s == "localhost" {
				p.ListenAddress = s
			} else if addr, err := netip.ParseAddr(s); err == nil {
				p.ListenAddress = addr.String()
			} else {
				d.errorf(lf.at, lf.path, "%q is not an IP address (use e.g. 0.0.0.0, 127.0.0.1, :: or localhost; the port is ports.proxy)", s)
			}
		}
	}
	if tf := optional(m, "trusted_proxies"); tf != nil {
		items, ok := d.sequence(tf, "IP addresses or CIDRs (e.g. [10.0.0.0/8, 192.168.1.10])")
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
