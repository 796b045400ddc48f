package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The load of the soak, per app: soakHTTPWorkers keep-alive connections
// asking in a loop (GET /, GET /headers with an id, POST /upload with a
// Content-Length body or a chunked one) and one WebSocket echoing. Sized for
// 2 cores: each worker pauses between requests, and longer after a failure.
const (
	soakHTTPWorkers = 2
	loadPause       = 5 * time.Millisecond
	failPause       = 25 * time.Millisecond
	echoPause       = 50 * time.Millisecond
	reopenPause     = 100 * time.Millisecond
	requestTimeout  = 10 * time.Second
	maxBody         = 8 << 10
)

// op is what a load worker asked.
type op string

const (
	opGet         op = "GET /"
	opHeaders     op = "GET /headers"
	opPostLength  op = "POST Content-Length"
	opPostChunked op = "POST chunked"
	opWebSocket   op = "WebSocket echo"
)

// opMix is the seeded choice of a worker's next request: POSTs with bodies
// as often as GETs (a body left unread is what turns into a next request).
var opMix = []op{opGet, opGet, opHeaders, opPostLength, opPostChunked, opPostLength, opPostChunked}

// failClass says what may excuse a failure.
type failClass int

const (
	// classOutage is what an outage gives: a refused connect, a cut or reset
	// connection, a timeout, 502 or 503, a WebSocket that dropped.
	classOutage failClass = iota
	// classGoingAway is a WebSocket closed with 1001, as a drain closes it.
	classGoingAway
	// classWrong is never excused: a 4xx, another status, a wrong body, an
	// answer of the bad image, an answer nobody asked for.
	classWrong
)

// failure is one failed request, a WebSocket that ended or did not open.
type failure struct {
	app int
	op  op
	// from is when the request was sent, or when its kept-alive connection
	// last answered (it may have broken since); to is when it failed.
	from, to time.Time
	class    failClass
	cause    string // short, to group by ("status 400", "EOF")
	detail   string
}

// streak is a run of failures of one worker with no success between them.
type streak struct {
	first    failure
	from, to time.Time
	n        int
}

// soakLoad runs the workers and records what they saw.
type soakLoad struct {
	apps []*app
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex
	ok        map[op]int64
	failures  []failure
	streaks   []streak
	badServed int64 // answers that carried the bad image's version
}

func startSoakLoad(apps []*app, seed int64) *soakLoad {
	l := &soakLoad{apps: apps, stop: make(chan struct{}), ok: map[op]int64{}}
	for ai := range apps {
		for wi := range soakHTTPWorkers {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(ai*100+wi)))
			l.wg.Add(1)
			go l.httpWorker(ai, wi, rng)
		}
		l.wg.Add(1)
		go l.wsWorker(ai)
	}
	return l
}

// halt stops the workers and waits for them.
func (l *soakLoad) halt() {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	l.wg.Wait()
}

func (l *soakLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// pause waits d unless the load stops first.
func (l *soakLoad) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.stop:
	}
}

// tracker follows one worker's current failure streak.
type tracker struct {
	l   *soakLoad
	cur streak
}

func (tr *tracker) succeeded(o op) {
	tr.l.mu.Lock()
	defer tr.l.mu.Unlock()
	tr.l.ok[o]++
	tr.flushLocked()
}

func (tr *tracker) failed(f failure) {
	tr.l.mu.Lock()
	defer tr.l.mu.Unlock()
	tr.l.failures = append(tr.l.failures, f)
	if f.cause == causeBadImage {
		tr.l.badServed++
	}
	if f.class == classGoingAway {
		return
	}
	if tr.cur.n == 0 {
		tr.cur = streak{first: f, from: f.from}
	}
	tr.cur.to, tr.cur.n = f.to, tr.cur.n+1
}

func (tr *tracker) flushLocked() {
	if tr.cur.n > 0 {
		tr.l.streaks = append(tr.l.streaks, tr.cur)
		tr.cur = streak{}
	}
}

func (tr *tracker) done() {
	tr.l.mu.Lock()
	defer tr.l.mu.Unlock()
	tr.flushLocked()
}

// httpWorker asks on one keep-alive connection at a time, opened again when
// the proxy closed it. It is its own client on purpose: a client library
// would send a GET again on a connection that was closed under it and hide
// the failure; here every request counts once, as it does for a client that
// sends a POST or a balancer that shares connections.
func (l *soakLoad) httpWorker(ai, wi int, rng *rand.Rand) {
	defer l.wg.Done()
	a := l.apps[ai]
	c := &rawClient{addr: fmt.Sprintf("127.0.0.1:%d", a.proxy)}
	defer c.close()
	tr := &tracker{l: l}
	defer tr.done()
	for n := 0; !l.stopped(); n++ {
		o := opMix[rng.IntN(len(opMix))]
		from := time.Now()
		if c.nc != nil {
			// A connection kept alive may have broken at any moment since
			// its last answer: the failure may have begun then.
			from = c.okAt
		}
		f, ok := c.exchange(o, fmt.Sprintf("%d-%d-%d", ai, wi, n), rng)
		if ok {
			tr.succeeded(o)
			l.pause(loadPause)
			continue
		}
		f.app, f.op, f.from, f.to = ai, o, from, time.Now()
		tr.failed(f)
		l.pause(failPause)
	}
}

// wsWorker keeps a WebSocket to the app echoing, and opens a new one when
// it ended.
func (l *soakLoad) wsWorker(ai int) {
	defer l.wg.Done()
	tr := &tracker{l: l}
	defer tr.done()
	for !l.stopped() {
		f := l.echoes(ai, tr)
		if l.stopped() && f.cause != causeBadImage {
			return
		}
		f.app, f.op, f.to = ai, opWebSocket, time.Now()
		tr.failed(f)
		l.pause(reopenPause)
	}
}

// echoes opens a WebSocket and echoes on it until it ends or the load
// stops, and returns how it ended.
func (l *soakLoad) echoes(ai int, tr *tracker) failure {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	from := time.Now()
	ws, resp, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", l.apps[ai].proxy), nil)
	cancel()
	if err != nil {
		return failure{from: from, class: classOutage, cause: "WebSocket dial: " + errCause(err), detail: err.Error()}
	}
	defer ws.CloseNow()
	switch v := resp.Header.Get("X-App-Version"); {
	case v == badVersion:
		return failure{from: from, class: classWrong, cause: causeBadImage, detail: "WebSocket handshake of the bad image"}
	case !goodVersions[v]:
		return failure{from: from, class: classWrong, cause: "unknown version", detail: "WebSocket handshake with X-App-Version " + v}
	}
	// A failure may have begun at any moment since the last echo (or the
	// handshake): from is when the WebSocket last worked.
	from = time.Now()
	for i := 0; !l.stopped(); i++ {
		msg := fmt.Sprintf("echo %d", i)
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		err := ws.Write(ctx, websocket.MessageText, []byte(msg))
		var b []byte
		if err == nil {
			_, b, err = ws.Read(ctx)
		}
		cancel()
		switch {
		case websocket.CloseStatus(err) == websocket.StatusGoingAway:
			return failure{from: from, class: classGoingAway, cause: causeGoingAway, detail: err.Error()}
		case err != nil:
			return failure{from: from, class: classOutage, cause: "WebSocket dropped: " + errCause(err), detail: err.Error()}
		case string(b) != msg:
			return failure{from: from, class: classWrong, cause: "wrong echo", detail: fmt.Sprintf("echo %.100q, want %q", b, msg)}
		}
		tr.succeeded(opWebSocket)
		from = time.Now()
		l.pause(echoPause)
	}
	return failure{}
}
