package sandbox

import (
	"encoding/json"
	"time"
)

// violationJSON is DESIGN's wire form of a Violation:
// {runId, command, kind, target, rule?: {file, line}, time}, extended by
// reason? (the cause when no file's rule decided: "denied by you at
// 14:02") and count? (identical accesses in the run, when more than one).
type violationJSON struct {
	RunID   string    `json:"runId"`
	Command string    `json:"command"`
	Kind    Kind      `json:"kind"`
	Target  string    `json:"target"`
	Rule    *ruleJSON `json:"rule,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
	Count   int       `json:"count,omitempty"`
}

type ruleJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// MarshalJSON writes the contract's form: the deciding rule as
// {file, line}, absent for a built-in default.
func (v Violation) MarshalJSON() ([]byte, error) {
	j := violationJSON{RunID: v.RunID, Command: v.Command, Kind: v.Kind, Target: v.Target, Time: v.Time}
	if v.Rule.IsDefault() {
		j.Reason = v.Reason
	}
	if v.Count > 1 {
		j.Count = v.Count
	}
	if !v.Rule.IsDefault() {
		j.Rule = &ruleJSON{File: v.Rule.File, Line: v.Rule.Line}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the contract's form back.
func (v *Violation) UnmarshalJSON(b []byte) error {
	var j violationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*v = Violation{RunID: j.RunID, Command: j.Command, Kind: j.Kind, Target: j.Target, Time: j.Time, Reason: j.Reason, Count: j.Count}
	if j.Rule != nil {
		v.Rule.File, v.Rule.Line = j.Rule.File, j.Rule.Line
	}
	return nil
}
