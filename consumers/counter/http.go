package counter

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// Query limits.
const (
	MaxSubjects     = 1000 // subjects per /windows request
	DefaultTopLimit = 10
	MaxTopLimit     = 1000
	MaxSeriesPoints = 20_000
)

// api serves the count queries over a Reader.
type api struct {
	reader    *Reader
	archive   *archive.Engine // nil: no archive, counts come from the history alone
	log       *slog.Logger
	retention time.Duration // history kept: older parts of a /counts range are not read
	maxFuture time.Duration // how far event times may lead the clock: later parts are not read
}

// Mount adds GET /windows, /top and /counts to r (the group behind the caller's key check):
// the count queries, answered by any process of the deployment. With an archive, /counts
// answers the part of a range older than the history kept from the archive.
func (c *Counter) Mount(r gin.IRoutes, arch *archive.Engine) {
	a := &api{reader: NewReader(c.rdb, c.cfg.Layout, c.cfg.Windows), archive: arch, log: c.cfg.Logger, retention: c.cfg.HistoryRetention, maxFuture: c.cfg.MaxFuture}
	r.GET("/windows", a.windows)
	r.GET("/top", a.top)
	r.GET("/counts", a.counts)
}

// windowsQuery is GET /windows?type=&subject=…
type windowsQuery struct {
	typ      string
	subjects []string
}

func parseWindowsQuery(v url.Values) (windowsQuery, error) {
	q := windowsQuery{typ: v.Get("type"), subjects: v["subject"]}
	if err := events.ValidateType(q.typ); err != nil {
		return q, httpapi.BadParam("type", "%s", err.Message)
	}
	if len(q.subjects) == 0 || len(q.subjects) > MaxSubjects {
		return q, httpapi.BadParam("subject", "give 1 to %d subject parameters", MaxSubjects)
	}
	for _, s := range q.subjects {
		if err := events.ValidateSubject(s); err != nil {
			return q, httpapi.BadParam("subject", "%s", err.Message)
		}
	}
	return q, nil
}

// windows answers {"at", "windows": [names], "counts": [{"type", "subject", "<window>": n, …}]}.
func (a *api) windows(c *gin.Context) {
	q, err := parseWindowsQuery(c.Request.URL.Query())
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	at, counts, _, err := a.reader.Windows(c.Request.Context(), q.typ, q.subjects)
	if err != nil {
		abort(c, err)
		return
	}
	names := events.Names(a.reader.windows)
	rows := make([]countRow, len(counts))
	for i, ct := range counts {
		rows[i] = countRow{Count: ct, names: names}
	}
	c.JSON(http.StatusOK, windowsAnswer{At: at, Windows: names, Counts: rows})
}

type windowsAnswer struct {
	At      int64      `json:"at"`
	Windows []string   `json:"windows"`
	Counts  []countRow `json:"counts"`
}

// countRow marshals as {"type", "subject", then one member per window name, in window order}.
type countRow struct {
	Count
	names []string
}

func (r countRow) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	t, _ := json.Marshal(r.Type)
	b.Write(t)
	b.WriteString(`,"subject":`)
	s, _ := json.Marshal(r.Subject)
	b.Write(s)
	for i, name := range r.names {
		n, _ := json.Marshal(name)
		b.WriteByte(',')
		b.Write(n)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(r.Counts[i], 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// topQuery is GET /top?type=&window=&limit=
type topQuery struct {
	typ    string
	window int // index into the windows
	limit  int
}

// parseTopQuery reads a top query: window defaults to the shortest one, limit to 10.
func parseTopQuery(v url.Values, ws []events.Window) (topQuery, error) {
	q := topQuery{typ: v.Get("type"), limit: DefaultTopLimit}
	if err := events.ValidateType(q.typ); err != nil {
		return q, httpapi.BadParam("type", "%s", err.Message)
	}
	name := ws[0].Name
	if v.Has("window") {
		name = v.Get("window")
	}
	if q.window = events.FindWindow(ws, name); q.window < 0 {
		return q, httpapi.BadParam("window", "unknown window %q (windows: %v)", name, events.Names(ws))
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxTopLimit {
			return q, httpapi.BadParam("limit", "limit must be an integer from 1 to %d", MaxTopLimit)
		}
		q.limit = n
	}
	return q, nil
}

// top answers {"at", "type", "window", "entries": [{"subject", "count"}]}.
func (a *api) top(c *gin.Context) {
	q, err := parseTopQuery(c.Request.URL.Query(), a.reader.windows)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	at, entries, err := a.reader.Top(c.Request.Context(), q.typ, q.window, q.limit)
	if err != nil {
		abort(c, err)
		return
	}
	if entries == nil {
		entries = []client.Entry{}
	}
	c.JSON(http.StatusOK, client.Top{At: at, Type: q.typ, Window: a.reader.windows[q.window].Name, Entries: entries})
}

// countsQuery is GET /counts?type=&subject=&from=&to=&step=
type countsQuery struct {
	typ      string
	subject  *string // nil: every subject of the type
	from, to int64   // unix ms
	step     time.Duration
}

func parseCountsQuery(v url.Values) (countsQuery, error) {
	q := countsQuery{typ: v.Get("type")}
	if err := events.ValidateType(q.typ); err != nil {
		return q, httpapi.BadParam("type", "%s", err.Message)
	}
	if v.Has("subject") {
		s := v.Get("subject")
		if err := events.ValidateSubject(s); err != nil {
			return q, httpapi.BadParam("subject", "%s", err.Message)
		}
		q.subject = &s
	}
	var err error
	if q.from, err = timeParam(v, "from"); err != nil {
		return q, err
	}
	if q.to, err = timeParam(v, "to"); err != nil {
		return q, err
	}
	if q.to <= q.from {
		return q, httpapi.BadParam("to", "to must be after from")
	}
	if s := v.Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			return q, httpapi.BadParam("step", "step must be a whole number of minutes, like 1m, 15m or 1h")
		}
		q.step = d
	}
	return q, nil
}

// counts answers {"type", "subject", "from", "to", "count", "series", "source"}: from and to are
// the range counted, in unix ms (whole minutes; without an archive, clipped to the history
// kept); series only with step. The history answers what it holds; an archive answers what is
// older, from the boundary on a step's edge, so that no point mixes the two.
func (a *api) counts(c *gin.Context) {
	q, err := parseCountsQuery(c.Request.URL.Query())
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	now := time.Now().UnixMilli()
	// Only what can exist is read: MaxFuture ahead, and without an archive, retention behind.
	from, to := q.from, min(q.to, now+a.maxFuture.Milliseconds()+time.Minute.Milliseconds())
	kept := now - a.retention.Milliseconds()
	if a.archive == nil {
		from = max(from, kept)
	}
	if to <= from { // nothing of the range can hold events
		from = floorDiv(max(from, to), 60_000) * 60_000
		ans := countsAnswer{Type: q.typ, Subject: q.subject, From: from, To: from, Source: "history"}
		if q.step > 0 {
			ans.Series = &[]client.Point{}
		}
		c.JSON(http.StatusOK, ans)
		return
	}
	from, to = floorDiv(from, 60_000)*60_000, -floorDiv(-to, 60_000)*60_000
	if q.step > 0 && (to-from)/q.step.Milliseconds() > MaxSeriesPoints {
		httpapi.Abort(c, httpapi.BadParam("step", "more than %d points: use a larger step", MaxSeriesPoints))
		return
	}
	// The boundary: the first minute the history holds, moved up to a step's edge.
	split := max(from, -floorDiv(-kept, 60_000)*60_000)
	if a.archive == nil {
		split = from
	} else if stepMs := q.step.Milliseconds(); stepMs > 0 {
		split = from + (split-from+stepMs-1)/stepMs*stepMs
	}
	split = min(split, to)
	ans := countsAnswer{Type: q.typ, Subject: q.subject, From: from, To: to}
	var series []client.Point
	if q.step > 0 {
		for t := from; t < to; t += q.step.Milliseconds() {
			series = append(series, client.Point{T: t})
		}
		ans.Series = &series
	}
	ctx := c.Request.Context()
	if split > from {
		counts, err := a.archive.Counts(ctx, archive.Filter{Types: []string{q.typ}, Subject: q.subject, From: from, To: split}, q.step)
		if err != nil {
			// The error may name the store's paths: the log gets it, the client the gist.
			a.log.WarnContext(ctx, "counts: archive read failed", "request_id", httpapi.RequestID(c), "err", err)
			httpapi.Abort(c, events.Unavailable("archive_unavailable", "the archive cannot be read now; retry", 5*time.Second))
			return
		}
		for i, n := range counts {
			ans.Count += n
			if q.step > 0 && i >= 0 && int(i) < len(series) {
				series[i].Count += n
			}
		}
		ans.Source = "archive"
	}
	if split < to {
		s := ""
		if q.subject != nil {
			s = *q.subject
		}
		rg, err := a.reader.History(ctx, q.typ, s, split, to, q.step)
		if err != nil {
			abort(c, err)
			return
		}
		ans.Count += rg.Count
		off := int((split - from) / max(q.step.Milliseconds(), 1))
		for i, pt := range rg.Series {
			series[off+i].Count += pt.Count
		}
		ans.Source = map[string]string{"": "history", "archive": "both"}[ans.Source]
	}
	c.JSON(http.StatusOK, ans)
}

type countsAnswer struct {
	Type    string          `json:"type"`
	Subject *string         `json:"subject"` // null: every subject of the type
	From    int64           `json:"from"`
	To      int64           `json:"to"`
	Count   int64           `json:"count"`
	Series  *[]client.Point `json:"series,omitempty"`
	Source  string          `json:"source"` // history, archive or both
}

func timeParam(v url.Values, name string) (int64, error) {
	s := v.Get(name)
	if s == "" {
		return 0, httpapi.BadParam(name, "%s is required: RFC 3339 or unix milliseconds", name)
	}
	ms, err := events.ParseTimeString(s)
	if err != nil {
		return 0, httpapi.BadParam(name, "%s", err.Message)
	}
	return ms, nil
}

// abort answers a failed read: counts that keep moving while being settled are a 503 to retry,
// like Redis being unavailable.
func abort(c *gin.Context, err error) {
	if errors.Is(err, errContention) {
		err = events.Unavailable("busy", "counts are being settled by other processes; retry", time.Second)
	}
	httpapi.Abort(c, err)
}
