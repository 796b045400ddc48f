package actors

import (
	"sync"

	"github.com/bluegreen/bluegreen/api"
)

// subscriberBuffer is how many events a slow subscriber may lag behind before
// it is dropped (its channel closed). Clients then resume with after_id.
const subscriberBuffer = 1024

// hub fans recorded events out to API subscribers. Publishing never blocks an
// actor: a subscriber that falls too far behind is closed.
type hub struct {
	mu   sync.Mutex
	next int
	subs map[int]chan api.Event
}

func newHub() *hub { return &hub{subs: map[int]chan api.Event{}} }

func (h *hub) subscribe() (<-chan api.Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	ch := make(chan api.Event, subscriberBuffer)
	h.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if c, ok := h.subs[id]; ok {
				delete(h.subs, id)
				close(c)
			}
		})
	}
}

func (h *hub) publish(e api.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, id)
			close(ch)
		}
	}
}
