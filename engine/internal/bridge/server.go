// Package bridge is the engine's bridge mode: one process carrying the LiveKit leg of
// every call of one phonebridge instance. phonebridge (TypeScript) owns every decision;
// this package joins rooms, moves audio and reports what happens, one goroutine tree
// per call under one context.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"phonebridge/engine/internal/wire"
)

// Options tune the server; the zero value is usable.
type Options struct {
	// SDKLogLevel is the lowest level of server-sdk-go's own lines that are kept.
	SDKLogLevel slog.Level
	// StatsInterval between engine-wide Stats frames (0: 5 s).
	StatsInterval time.Duration
	// EngineVersion is reported in Hello.
	EngineVersion string
}

// Server reads commands from phonebridge and writes events and audio back.
type Server struct {
	log  *slog.Logger
	out  *wire.Writer
	opts Options

	mu    sync.Mutex
	calls map[uint32]*Call
	wg    sync.WaitGroup

	// problems already logged, so a peer that keeps sending the same bad thing is
	// logged once per kind and call, then counted
	warned sync.Map
}

// NewServer writes to out (batched) and logs to log.
func NewServer(log *slog.Logger, out io.Writer, opts Options) *Server {
	if opts.StatsInterval == 0 {
		opts.StatsInterval = 5 * time.Second
	}
	// 4 MiB of backlog is 20 s of audio for 150 calls: past it the peer is stuck, and
	// audio is dropped (counted) rather than memory grown.
	return &Server{log: log, out: wire.NewWriter(out, 4<<20), opts: opts, calls: map[uint32]*Call{}}
}

// Serve runs until in ends (phonebridge closed the pipe or died) or ctx is cancelled,
// then leaves every room and returns. A protocol version mismatch is an error.
func (s *Server) Serve(ctx context.Context, in io.Reader) error {
	defer s.out.Close()
	info, _ := json.Marshal(map[string]any{"engine": s.opts.EngineVersion, "pid": os.Getpid(), "go": runtime.Version()})
	s.out.Enqueue(false, func(dst []byte) []byte { return wire.AppendHello(dst, info) })

	r := wire.NewReader(in)
	first, err := r.ReadFrame()
	if err != nil {
		return fmt.Errorf("reading hello: %w", err)
	}
	if first.Type != wire.TypeHello {
		return fmt.Errorf("expected hello (0x01) as the first frame, got 0x%02x: phonebridge and engine out of step", first.Type)
	}
	v, _, err := wire.ParseHello(first.Body)
	if err != nil {
		return err
	}
	if v != wire.Version {
		return fmt.Errorf("engine protocol version mismatch: phonebridge speaks v%d, this engine v%d (rebuild the engine: npm run engine:ensure)", v, wire.Version)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.reportStats(ctx)

	frames := make(chan error, 1)
	go func() {
		for {
			f, err := r.ReadFrame()
			if err != nil {
				frames <- err
				return
			}
			s.dispatch(ctx, f)
		}
	}()
	select {
	case err = <-frames:
	case <-ctx.Done():
	}
	s.leaveAll()
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (s *Server) leaveAll() {
	s.mu.Lock()
	for _, c := range s.calls {
		c.Leave()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) dispatch(ctx context.Context, f wire.Frame) {
	if f.Type == wire.TypeHello {
		s.warnOnce("hello", 0, "Repeated hello from phonebridge ignored")
		return
	}
	id, rest, err := wire.CallID(f.Body)
	if err != nil {
		s.warnOnce(fmt.Sprintf("short-%x", f.Type), 0, "Malformed message from phonebridge dropped", "type", f.Type, "err", err.Error())
		return
	}
	if f.Type == wire.TypeJoin {
		s.join(ctx, id, rest)
		return
	}
	s.mu.Lock()
	c := s.calls[id]
	s.mu.Unlock()
	if c == nil {
		// A call that already ended (its frames were in flight) or was never joined.
		return
	}
	switch f.Type {
	case wire.TypeCallerAudio:
		c.callerAudio(rest)
	case wire.TypeDTMF:
		c.dtmf(rest)
	case wire.TypeLeave:
		c.Leave()
	case wire.TypeRPCReply:
		var r wire.RPCReply
		if err := wire.DecodeJSON(rest, &r); err != nil {
			c.problem("rpc_reply", "Malformed rpc reply dropped", "err", err.Error())
			return
		}
		c.rpcReply(r)
	case wire.TypeSetAttrs:
		var a wire.SetAttrs
		if err := wire.DecodeJSON(rest, &a); err != nil {
			c.problem("set_attrs", "Malformed set-attributes dropped", "err", err.Error())
			return
		}
		c.setAttributes(a.Attributes)
	default:
		c.problem(fmt.Sprintf("type-%x", f.Type), "Unknown message type from phonebridge dropped", "type", f.Type)
	}
}

func (s *Server) join(ctx context.Context, id uint32, body []byte) {
	var j wire.Join
	err := wire.DecodeJSON(body, &j)
	if err == nil {
		err = j.Validate()
	}
	if err != nil {
		s.log.Warn("Refused join: bad request from phonebridge", "callId", id, "callSid", j.CallSid, "err", err.Error())
		s.emit(id, wire.Event{Type: "join_failed", Error: "bad join: " + err.Error()})
		s.emit(id, wire.Event{Type: "left"})
		return
	}
	s.mu.Lock()
	if _, dup := s.calls[id]; dup {
		s.mu.Unlock()
		s.log.Warn("Refused join: call id already in use", "callId", id, "callSid", j.CallSid)
		return
	}
	c := newCall(ctx, s, id, j)
	s.calls[id] = c
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.calls, id)
		s.mu.Unlock()
	}()
}

// emit queues one event; events are never dropped (audio is).
func (s *Server) emit(id uint32, ev wire.Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("Could not encode event", "err", err.Error(), "type", ev.Type)
		return
	}
	s.out.Enqueue(false, func(dst []byte) []byte { return wire.AppendCallFrame(dst, wire.TypeEvent, id, body) })
}

func (s *Server) warnOnce(kind string, id uint32, msg string, kv ...any) bool {
	if _, seen := s.warned.LoadOrStore(fmt.Sprintf("%d/%s", id, kind), true); seen {
		return false
	}
	s.log.Warn(msg, kv...)
	return true
}

func (s *Server) reportStats(ctx context.Context) {
	t := time.NewTicker(s.opts.StatsInterval)
	defer t.Stop()
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		n := len(s.calls)
		s.mu.Unlock()
		body, _ := json.Marshal(map[string]any{
			"calls":          n,
			"goroutines":     runtime.NumGoroutine(),
			"droppedToPeer":  s.out.Dropped(),
			"uptimeSeconds":  int(time.Since(started).Seconds()),
			"heapAllocBytes": heapAlloc(),
		})
		s.out.Enqueue(false, func(dst []byte) []byte { return wire.Append(dst, wire.TypeStats, body) })
	}
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
