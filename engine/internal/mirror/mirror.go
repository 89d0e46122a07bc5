// Package mirror is a load-test agent: it joins every call-* room as an AGENT-kind
// participant and plays the caller's audio straight back as Opus at 48 kHz, as a real
// agent would publish it. One process serves every room, so a load test of many calls
// measures the bridge, not a process-per-call agent framework.
package mirror

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Options configure the mirror.
type Options struct {
	URL, APIKey, APISecret string
	RoomPrefix             string
	Poll                   time.Duration
	// CallerTimeout: a room whose caller has not published audio by then is left.
	CallerTimeout time.Duration
	// Complexity and Bitrate of the Opus encoder.
	Complexity, Bitrate int
	SDKLogLevel         slog.Level
}

// Run serves rooms until ctx is cancelled, then leaves them all.
func Run(ctx context.Context, log *slog.Logger, opts Options) error {
	rooms := lksdk.NewRoomServiceClient(httpURL(opts.URL), opts.APIKey, opts.APISecret)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		served  = map[string]bool{} // room SIDs, never re-joined while the room lingers
		joined  int
		lastErr string
	)
	log.Info("Mirror agent started", "roomPrefix", opts.RoomPrefix, "pollMs", opts.Poll.Milliseconds())
	t := time.NewTicker(opts.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		res, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
		if err != nil {
			if msg := err.Error(); msg != lastErr && ctx.Err() == nil {
				log.Warn("Mirror could not list rooms", "err", msg)
				lastErr = msg
			}
		} else {
			lastErr = ""
			present := map[string]bool{}
			for _, r := range res.Rooms {
				present[r.Sid] = true
				mu.Lock()
				fresh := strings.HasPrefix(r.Name, opts.RoomPrefix) && !served[r.Sid]
				if fresh {
					served[r.Sid] = true
					joined++
				}
				mu.Unlock()
				if !fresh {
					continue
				}
				wg.Add(1)
				go func(name string) {
					defer wg.Done()
					serve(ctx, log.With("room", name, "callSid", strings.TrimPrefix(name, "call-")), opts, name)
				}(r.Name)
			}
			mu.Lock()
			for sid := range served {
				if !present[sid] {
					delete(served, sid)
				}
			}
			mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	wg.Wait()
	log.Info("Mirror agent stopped", "roomsServed", joined)
	return nil
}

func httpURL(u string) string {
	if strings.HasPrefix(u, "ws") {
		return "http" + strings.TrimPrefix(u, "ws")
	}
	return u
}
