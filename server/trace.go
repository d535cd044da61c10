package server

import (
	"encoding/json"
	"log/slog"

	"github.com/cordon-dev/cordon/server/runner"
)

// traceLevel follows the client's trace setting ("off", "messages",
// "verbose": VS Code's cordon.trace.server, sent in initialize and
// $/setTrace): verbose logs at debug, anything else at info. It changes
// nothing when the server was not given a level to steer.
func (s *server) traceLevel(value string) {
	lv := s.opts.LogLevel
	if lv == nil {
		return
	}
	switch value {
	case "verbose":
		lv.Set(slog.LevelDebug)
	default:
		lv.Set(s.opts.baseLevel)
	}
}

func (s *server) setTrace(params json.RawMessage) {
	var p struct {
		Value string `json:"value"`
	}
	if json.Unmarshal(params, &p) == nil {
		s.traceLevel(p.Value)
		s.log.Info("trace", "value", p.Value)
	}
}

// logRunEnd says how a run ended, at info: the editor's server log is
// where a user looks when a run did not do what they expected.
func (s *server) logRunEnd(runID, label string, out *runner.Outcome, err, cancelled error) {
	switch {
	case err != nil:
		s.log.Info("run failed", "run", runID, "command", label, "err", err)
	case cancelled != nil:
		s.log.Info("run cancelled", "run", runID, "command", label)
	default:
		s.log.Info("run ended", "run", runID, "command", label, "exit", out.ExitCode, "signal", out.Signal, "timedOut", out.TimedOut, "violations", len(out.Violations))
	}
}
