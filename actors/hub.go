package actors

import (
	"sync"

	"github.com/bluegreen/bluegreen/deploy"
)

// subscriberBuffer is how many events a slow subscriber may lag behind before
// it is dropped (its channel closed). Clients then resume with after_id.
const subscriberBuffer = 1024

// hub fans recorded events out to API subscribers. Publishing never blocks an
// actor: a subscriber that falls too far behind is closed.
type hub struct {
	mu   sync.Mutex
	next int
	subs map[int]chan deploy.Event
}

func newHub() *hub { return &hub{subs: map[int]chan deploy.Event{}} }

func (h *hub) subscribe() (<-chan deploy.Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	ch := make(chan deploy.Event, subscriberBuffer)
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

func (h *hub) publish(e deploy.Event) {
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
