package config

// portKeys are the keys of the ports section.
var portKeys = []string{"proxy", "blue", "green"}

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
