package counter

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/client"
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

// API serves the count queries over a Reader.
type API struct {
	Reader    *Reader
	Retention time.Duration // history kept: older parts of a /counts range are not read
	MaxFuture time.Duration // how far event times may lead the clock: later parts are not read
}

// Routes mounts GET /windows, /top and /counts on r, each guarded by auth.
func (a *API) Routes(r gin.IRoutes, auth gin.HandlerFunc) {
	r.GET("/windows", auth, a.windows)
	r.GET("/top", auth, a.top)
	r.GET("/counts", auth, a.counts)
}

// windows answers {"at", "windows": [names], "counts": [{"type", "subject", "<window>": n, …}]}.
func (a *API) windows(c *gin.Context) {
	typ, ok := typeParam(c)
	if !ok {
		return
	}
	subjects := c.QueryArray("subject")
	if len(subjects) == 0 || len(subjects) > MaxSubjects {
		httpapi.Abort(c, httpapi.BadParam("subject", "give 1 to %d subject parameters", MaxSubjects))
		return
	}
	for _, s := range subjects {
		if err := events.ValidateSubject(s); err != nil {
			httpapi.Abort(c, httpapi.BadParam("subject", "%s", err.Message))
			return
		}
	}
	at, counts, _, err := a.Reader.Windows(c.Request.Context(), typ, subjects)
	if err != nil {
		abort(c, err)
		return
	}
	names := events.Names(a.Reader.windows)
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

// top answers {"at", "type", "window", "entries": [{"subject", "count"}]}. window defaults to
// the shortest one, limit to 10.
func (a *API) top(c *gin.Context) {
	typ, ok := typeParam(c)
	if !ok {
		return
	}
	ws := a.Reader.windows
	name := c.DefaultQuery("window", ws[0].Name)
	w := events.FindWindow(ws, name)
	if w < 0 {
		httpapi.Abort(c, httpapi.BadParam("window", "unknown window %q (windows: %v)", name, events.Names(ws)))
		return
	}
	limit := DefaultTopLimit
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxTopLimit {
			httpapi.Abort(c, httpapi.BadParam("limit", "limit must be an integer from 1 to %d", MaxTopLimit))
			return
		}
		limit = n
	}
	at, entries, err := a.Reader.Top(c.Request.Context(), typ, w, limit)
	if err != nil {
		abort(c, err)
		return
	}
	if entries == nil {
		entries = []client.Entry{}
	}
	c.JSON(http.StatusOK, client.Top{At: at, Type: typ, Window: name, Entries: entries})
}

// counts answers {"type", "subject", "from", "to", "count", "series"}: from and to are the
// range counted, in unix ms (whole minutes, clipped to the history kept); series only with step.
func (a *API) counts(c *gin.Context) {
	typ, ok := typeParam(c)
	if !ok {
		return
	}
	var subject *string
	if s, given := c.GetQuery("subject"); given {
		if err := events.ValidateSubject(s); err != nil {
			httpapi.Abort(c, httpapi.BadParam("subject", "%s", err.Message))
			return
		}
		subject = &s
	}
	from, ok := timeParam(c, "from")
	if !ok {
		return
	}
	to, ok := timeParam(c, "to")
	if !ok {
		return
	}
	if to <= from {
		httpapi.Abort(c, httpapi.BadParam("to", "to must be after from"))
		return
	}
	var step time.Duration
	if s := c.Query("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			httpapi.Abort(c, httpapi.BadParam("step", "step must be a whole number of minutes, like 1m, 15m or 1h"))
			return
		}
		step = d
	}
	// Only history that can exist is read: retention behind, MaxFuture ahead.
	now := time.Now().UnixMilli()
	from = max(from, now-a.Retention.Milliseconds())
	to = min(to, now+a.MaxFuture.Milliseconds()+time.Minute.Milliseconds())
	s := ""
	if subject != nil {
		s = *subject
	}
	if to <= from { // nothing of the range can hold events
		from = floorDiv(max(from, to), 60_000) * 60_000
		ans := countsAnswer{Type: typ, Subject: subject, From: from, To: from}
		if step > 0 {
			ans.Series = &[]client.Point{}
		}
		c.JSON(http.StatusOK, ans)
		return
	}
	if step > 0 && (to-from)/step.Milliseconds() > MaxSeriesPoints {
		httpapi.Abort(c, httpapi.BadParam("step", "more than %d points: use a larger step", MaxSeriesPoints))
		return
	}
	rg, err := a.Reader.History(c.Request.Context(), typ, s, from, to, step)
	if err != nil {
		abort(c, err)
		return
	}
	ans := countsAnswer{Type: typ, Subject: subject, From: rg.From, To: rg.To, Count: rg.Count}
	if step > 0 {
		ans.Series = &rg.Series
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
}

func typeParam(c *gin.Context) (string, bool) {
	typ := c.Query("type")
	if err := events.ValidateType(typ); err != nil {
		httpapi.Abort(c, httpapi.BadParam("type", "%s", err.Message))
		return "", false
	}
	return typ, true
}

func timeParam(c *gin.Context, name string) (int64, bool) {
	s := c.Query(name)
	if s == "" {
		httpapi.Abort(c, httpapi.BadParam(name, "%s is required: RFC 3339 or unix milliseconds", name))
		return 0, false
	}
	ms, err := events.ParseTimeString(s)
	if err != nil {
		httpapi.Abort(c, httpapi.BadParam(name, "%s", err.Message))
		return 0, false
	}
	return ms, true
}

// abort answers a failed read: counts that keep moving while being settled are a 503 to retry,
// like Redis being unavailable.
func abort(c *gin.Context, err error) {
	if errors.Is(err, errContention) {
		err = events.Unavailable("busy", "counts are being settled by other processes; retry", time.Second)
	}
	httpapi.Abort(c, err)
}
