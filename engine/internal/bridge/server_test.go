package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"phonebridge/engine/internal/wire"
)

// syncBuffer collects what the server writes, safe for its writer goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) frames(t *testing.T) []wire.Frame {
	b.mu.Lock()
	raw := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	r := wire.NewReader(bytes.NewReader(raw))
	var out []wire.Frame
	for {
		f, err := r.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, wire.Frame{Type: f.Type, Body: append([]byte(nil), f.Body...)})
	}
}

func events(t *testing.T, frames []wire.Frame) []wire.Event {
	var out []wire.Event
	for _, f := range frames {
		if f.Type != wire.TypeEvent {
			continue
		}
		_, body, _ := wire.CallID(f.Body)
		var ev wire.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func serve(t *testing.T, input []byte) ([]wire.Frame, string, error) {
	t.Helper()
	var logs bytes.Buffer
	out := &syncBuffer{}
	srv := NewServer(slog.New(slog.NewJSONHandler(&logs, nil)), out, Options{StatsInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Serve(ctx, bytes.NewReader(input))
	return out.frames(t), logs.String(), err
}

func hello(version uint16) []byte {
	b := wire.AppendHello(nil, []byte(`{"phonebridge":true}`))
	b[5], b[6] = byte(version), byte(version>>8)
	return b
}

func TestRefusesAnotherProtocolVersion(t *testing.T) {
	frames, _, err := serve(t, hello(wire.Version+1))
	if err == nil || !strings.Contains(err.Error(), "version mismatch") {
		t.Fatalf("err = %v, want a version mismatch", err)
	}
	if len(frames) == 0 || frames[0].Type != wire.TypeHello {
		t.Fatal("the engine must say hello (with its version) before refusing")
	}
}

func TestBadInputIsDroppedNotFatal(t *testing.T) {
	in := hello(wire.Version)
	// A join that is not JSON, one with a bad codec, and messages for calls that do not exist.
	in = wire.AppendCallFrame(in, wire.TypeJoin, 1, []byte(`{not json`))
	in = wire.AppendCallFrame(in, wire.TypeJoin, 2, []byte(`{"callSid":"CA1","url":"ws://127.0.0.1:1","token":"t","codec":"opus","trackName":"phone-audio"}`))
	in = wire.AppendCallFrame(in, wire.TypeCallerAudio, 99, make([]byte, 160))
	in = wire.AppendCallFrame(in, wire.TypeDTMF, 99, []byte{1, '1'})
	in = wire.AppendCallFrame(in, wire.TypeLeave, 99, nil)
	in = wire.AppendCallFrame(in, 0x7e, 99, nil)
	in = wire.Append(in, wire.TypeLeave, []byte{1}) // shorter than a call id
	frames, logs, err := serve(t, in)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	evs := events(t, frames)
	var failed, left int
	for _, ev := range evs {
		switch ev.Type {
		case "join_failed":
			failed++
			if !strings.Contains(ev.Error, "bad join") {
				t.Fatalf("join_failed says %q", ev.Error)
			}
		case "left":
			left++
		}
	}
	if failed != 2 || left != 2 {
		t.Fatalf("events %+v: want two refused joins, each followed by left", evs)
	}
	if !strings.Contains(logs, `codec must be`) || !strings.Contains(logs, "Malformed message") {
		t.Fatalf("the refusals are not logged with a reason:\n%s", logs)
	}
}

func TestEndOfInputEndsServe(t *testing.T) {
	if _, _, err := serve(t, hello(wire.Version)); err != nil {
		t.Fatalf("a clean EOF after hello should end Serve without error, got %v", err)
	}
	if _, _, err := serve(t, hello(wire.Version)[:5]); err == nil {
		t.Fatal("a truncated hello must be an error")
	}
}
