package counter

import (
	"strconv"

	"github.com/pulsehq/pulse/internal/events"
)

// keys names one partition's counter state. Every key starts with Layout.Prefix(p), so it
// carries the partition's hash tag and one script call touches one cluster slot. A type never
// contains ':' (events.Event.Validate), so "<type>:<rest>" cannot be forged by a subject.
//
//	c:x                        string  settled second X: windows are exact at X
//	c:v                        string  change-set version, INCR'd with every publish
//	c:due                      zset    "<sec>:<type>" of every bucket (score = second), until it leaves the longest window
//	c:s:<type>:<sec>           hash    bucket: subject → events at that second (until it leaves the longest window)
//	c:f:<type>:<sec>           hash    the part of a bucket applied before its second came (enters the windows then)
//	c:top:<wsec>:<type>        zset    leaderboard = window count: subject → events in (X−w, X]
//	c:ht:<type>:<hour>         hash    history per type: minute of the hour → events
//	c:hs:<type>:<hour>:<subj>  hash    history per subject: minute of the hour → events
type keys string

func keysOf(l events.Layout, p int) keys { return keys(l.Prefix(p) + "c:") }

func (k keys) cursor() string  { return string(k) + "x" }
func (k keys) version() string { return string(k) + "v" }
func (k keys) due() string     { return string(k) + "due" }

// Keys of the schedule's layout before (type, second) members: due.lua migrates them away.
func (k keys) oldSched() string { return string(k) + "sched" }
func (k keys) oldTypes() string { return string(k) + "types" }

func (k keys) bucket(typ string, sec int64) string {
	return string(k) + "s:" + typ + ":" + strconv.FormatInt(sec, 10)
}

func (k keys) future(typ string, sec int64) string {
	return string(k) + "f:" + typ + ":" + strconv.FormatInt(sec, 10)
}

func (k keys) top(windowSec int64, typ string) string {
	return string(k) + "top:" + strconv.FormatInt(windowSec, 10) + ":" + typ
}

func (k keys) typeHistory(typ string, hour int64) string {
	return string(k) + "ht:" + typ + ":" + strconv.FormatInt(hour, 10)
}

func (k keys) subjectHistory(typ string, hour int64, subject string) string {
	return string(k) + "hs:" + typ + ":" + strconv.FormatInt(hour, 10) + ":" + subject
}
