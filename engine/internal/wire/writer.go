package wire

import (
	"io"
	"sync"
	"sync/atomic"
)

// Writer batches frames from many goroutines into few writes: producers append to one
// pending buffer under a lock, and a single goroutine swaps it out and writes it whole.
// While one write is in flight, everything queued behind it leaves in the next one, so
// batches grow exactly when the peer is slow and stay single frames when it is not.
type Writer struct {
	out   io.Writer
	limit int

	mu      sync.Mutex
	pending []byte
	closed  bool

	wake    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	failed  atomic.Bool
}

// NewWriter starts the writing goroutine. Droppable frames (audio) are refused while
// more than limit bytes wait to be written; control frames are always taken.
func NewWriter(out io.Writer, limit int) *Writer {
	w := &Writer{out: out, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.run()
	return w
}

// Enqueue appends a frame built by build. It returns false, counting a drop, when the
// frame is droppable and the backlog is over the limit, or when the writer is closed.
func (w *Writer) Enqueue(droppable bool, build func(dst []byte) []byte) bool {
	w.mu.Lock()
	if w.closed || (droppable && len(w.pending) > w.limit) {
		w.mu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.pending = build(w.pending)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// Dropped counts frames refused because the peer did not keep up.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Failed reports whether a write to the peer failed (the pipe is gone).
func (w *Writer) Failed() bool { return w.failed.Load() }

// Close writes what is pending and stops the goroutine. Safe to call twice.
func (w *Writer) Close() {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if !already {
		close(w.wake)
	}
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	var spare []byte
	for range w.wake {
		for {
			w.mu.Lock()
			batch := w.pending
			w.pending = spare[:0]
			w.mu.Unlock()
			if len(batch) == 0 {
				spare = batch
				break
			}
			if !w.failed.Load() {
				if _, err := w.out.Write(batch); err != nil {
					w.failed.Store(true)
				}
			}
			spare = batch
		}
	}
	// Closed: whatever was appended after the last wake-up still goes out.
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	if len(batch) > 0 && !w.failed.Load() {
		_, _ = w.out.Write(batch)
	}
}
