package proxy

import (
	"bufio"
)

// A canary step (docs/verification.md, "Canary steps") splits an app's
// traffic by client: a client whose bucket is under the step's percent goes
// to the canary color, the others to the active one. A client's bucket is
// the hash of its bluegreen_canary cookie, 0-99, so it stays on one color
// through a step, and a client on the canary color stays there as the
// percent grows. A request without the cookie gets a new random value:
// it is routed by it at once, and its answer sets the cookie. Clients that
// keep no cookies are thus assigned per request.
//
// The split sits behind an atomic pointer beside the active route: with
// no canary, the request path reads one more nil pointer and nothing else;
// with one, it reads a cookie from the request head and hashes it, and
// the new value and its Set-Cookie field are written from the request's
// scratch: nothing is allocated either way.

// CanaryCookie is the name of the cookie that assigns a client to a
// color during a canary step.
const CanaryCookie = "bluegreen_canary"

// canaryValueLen is the length of a cookie value the proxy makes: 128
// random bits in hex.
const canaryValueLen = 32

// canaryRoute is a canary step's split: percent of the clients' buckets go
// to t, the rest to the active target.
type canaryRoute struct {
	t       *target
	percent uint32
}

// SetCanary routes the clients whose bucket is under percent (1-99) to
// color's container at addr, and the others to the active color, whose
// route stays as SetTarget made it; percent 0 or less ends the split (all
// to the active color). A SetTarget to another route ends it too: to
// color and addr, it moves every client there and the canary's requests
// in flight count on as the active route's. Only the owning app actor
// calls it.
func (p *Proxy) SetCanary(color, addr string, percent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.canary.Load()
	if percent <= 0 || color == "" {
		if old != nil {
			p.canary.Store(nil)
			p.log.Info("canary ended", "color", old.t.color)
		}
		return
	}
	percent = min(percent, 100)
	t := (*target)(nil)
	if old != nil && old.t.color == color && old.t.addr == addr {
		t = old.t
	} else {
		t = p.newRoute(color, addr)
	}
	p.canary.Store(&canaryRoute{t: t, percent: uint32(percent)})
	p.log.Info("canary", "color", color, "addr", addr, "percent", percent)
}

// Canary returns the canary step's color, address and percent ("" and 0:
// none).
func (p *Proxy) Canary() (color, addr string, percent int) {
	if c := p.canary.Load(); c != nil {
		return c.t.color, c.t.addr, int(c.percent)
	}
	return "", "", 0
}

// routes reports whether new requests may still be routed to t: it is the
// active route or the canary's.
func (p *Proxy) routes(t *target) bool {
	if p.active.Load() == t {
		return true
	}
	c := p.canary.Load()
	return c != nil && c.t == t
}

// canaryBucket is the request's bucket, 0-99: the hash of its
// bluegreen_canary cookie, or of a new value that its answer sets (when
// it has none). It is chosen once per request.
func (cc *clientConn) canaryBucket() uint32 {
	sc := cc.sc
	if sc.canaryChosen {
		return sc.canaryBucket
	}
	v, ok := cc.req.Cookie(CanaryCookie)
	if !ok {
		newCanaryValue(&sc.canaryValue)
		v, sc.canarySet = sc.canaryValue[:], true
	}
	sc.canaryBucket, sc.canaryChosen = bucketOf(v), true
	return sc.canaryBucket
}

// writeCanaryCookie writes the Set-Cookie field of the request's new
// cookie value, when it got one.
func (cc *clientConn) writeCanaryCookie(w *bufio.Writer) {
	if sc := cc.sc; sc != nil && sc.canarySet {
		w.WriteString("Set-Cookie: " + CanaryCookie + "=")
		w.Write(sc.canaryValue[:])
		w.WriteString("; Path=/; HttpOnly; SameSite=Lax\r\n")
	}
}

// Bucket is the bucket, 0-99, of a bluegreen_canary cookie value: during
// a canary step at percent p, a client whose bucket is under p goes to the
// canary color.
func Bucket(value string) int { return int(bucketOf([]byte(value))) }

// bucketOf is a cookie value's bucket: its FNV-1a hash modulo 100.
func bucketOf(v []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range v {
		h ^= uint32(c)
		h *= 16777619
	}
	return h % 100
}

// newCanaryValue fills v with a random cookie value, as a request ID is
// made (randomHex).
func newCanaryValue(v *[canaryValueLen]byte) { randomHex(v) }
