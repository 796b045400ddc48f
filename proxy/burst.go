package proxy

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The memory of closed connections goes back to the system only after a
// garbage collection, and a proxy that only relays allocates nothing, so
// that none comes: after a burst of thousands of connections the process
// would stay large until the runtime's forced collection two minutes
// later. So when burstConns client connections closed since the last
// collection the proxy asks for one, burstDelay after (the rest of the
// burst closes meanwhile); the runtime's scavenger then returns the freed
// pages at its own pace.
const (
	burstConns = 1000
	burstDelay = time.Second
)

// closedConns counts client connections closed, of every proxy of the
// process, since the last collection asked for.
var closedConns atomic.Int64

// noteClosed counts a closed client connection.
func noteClosed() {
	if closedConns.Add(1) == burstConns {
		time.AfterFunc(burstDelay, func() {
			closedConns.Store(0)
			runtime.GC()
		})
	}
}
