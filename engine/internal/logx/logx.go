// Package logx gives the engine one structured logger: JSON lines on stderr, which
// phonebridge reads and re-logs into its own pino stream with the call's callSid, so a
// call's story is one stream whichever process wrote a line.
package logx

import (
	"context"
	"io"
	"log/slog"

	protoLogger "github.com/livekit/protocol/logger"
)

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// ParseLevel maps phonebridge's pino level names onto slog levels.
func ParseLevel(s string) slog.Level {
	switch s {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error", "fatal":
		return slog.LevelError
	case "silent":
		return slog.LevelError + 4
	default:
		return slog.LevelInfo
	}
}

// ForSDK adapts a logger for server-sdk-go. The SDK narrates every connection step at
// info level; only its warnings and errors belong in a call's story, so anything below
// minLevel is dropped.
func ForSDK(l *slog.Logger, minLevel slog.Level) protoLogger.Logger {
	return &sdkLogger{l: l, min: minLevel}
}

type sdkLogger struct {
	l   *slog.Logger
	min slog.Level
}

var _ protoLogger.Logger = (*sdkLogger)(nil)

func (s *sdkLogger) log(level slog.Level, msg string, err error, kv []any) {
	if level < s.min {
		return
	}
	if err != nil {
		kv = append(kv, "err", err.Error())
	}
	s.l.Log(context.Background(), level, msg, kv...)
}

func (s *sdkLogger) Debugw(msg string, kv ...any) { s.log(slog.LevelDebug, msg, nil, kv) }
func (s *sdkLogger) Infow(msg string, kv ...any)  { s.log(slog.LevelInfo, msg, nil, kv) }
func (s *sdkLogger) Warnw(msg string, err error, kv ...any) {
	s.log(slog.LevelWarn, msg, err, kv)
}
func (s *sdkLogger) Errorw(msg string, err error, kv ...any) {
	s.log(slog.LevelError, msg, err, kv)
}
func (s *sdkLogger) WithValues(kv ...any) protoLogger.Logger {
	return &sdkLogger{l: s.l.With(kv...), min: s.min}
}
func (s *sdkLogger) WithUnlikelyValues(kv ...any) protoLogger.UnlikelyLogger {
	return protoLogger.NewUnlikelyLogger(s, kv...)
}
func (s *sdkLogger) WithName(name string) protoLogger.Logger {
	return &sdkLogger{l: s.l.With("component", name), min: s.min}
}
func (s *sdkLogger) WithComponent(c string) protoLogger.Logger { return s.WithName(c) }
func (s *sdkLogger) WithCallDepth(int) protoLogger.Logger      { return s }
func (s *sdkLogger) WithItemSampler() protoLogger.Logger       { return s }
func (s *sdkLogger) WithoutSampler() protoLogger.Logger        { return s }
func (s *sdkLogger) WithDeferredValues() (protoLogger.Logger, protoLogger.DeferredFieldResolver) {
	return s, noResolver{}
}

type noResolver struct{}

func (noResolver) Resolve(...any) {}
func (noResolver) Reset()         {}
