package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/events"
)

// FuzzDecode holds the hand-written decoder to encoding/json: it must accept exactly the
// documents encoding/json accepts, and read the same fields from them. The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`[{"id":"a","type":"t","subject":"s","time":1790000000000,"data":{"k":[1,2]}}]`), byte(formatJSON))
	f.Fuzz(func(t *testing.T, body []byte, kind byte) {
		fm := format(kind%4 + 1)
		items, err := decode(fm, string(body), 1<<20, nil)
		if fm == formatNDJSON {
			checkLines(t, body, items, err)
			return
		}
		var se *syntaxError
		want, ok := oracle(fm, body)
		switch {
		case err != nil && !errors.As(err, &se):
			t.Fatalf("unexpected error %v", err)
		case ok && err != nil:
			t.Fatalf("decode refused a document encoding/json accepts: %v", err)
		case !ok && err == nil:
			t.Fatalf("decode accepted a document encoding/json refuses (or of the wrong kind): %d items", len(items))
		case ok:
			compare(t, items, want)
		}
	})
}

// oracle decodes body with encoding/json into the items decode should produce.
func oracle(fm format, body []byte) ([]item, bool) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0: // no events: the handler answers empty_body
		return nil, true
	case !json.Valid(body):
		return nil, false
	}
	switch c := trimmed[0]; {
	case c == '{' && fm != formatArray:
		return []item{oracleItem(trimmed)}, true
	case c == '[' && fm != formatObject:
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, false
		}
		out := make([]item, len(raws))
		for i, r := range raws {
			out[i] = oracleItem(r)
		}
		return out, true
	}
	return nil, false
}

func oracleItem(raw []byte) item {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return item{err: errNotObject}
	}
	var it item
	str := func(key string, dst *string, f fields) {
		v, ok := m[key]
		if !ok || string(v) == "null" {
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			it.wrong |= f
		} else if key == "id" {
			it.idSet = true
		}
	}
	str("id", &it.ev.ID, fieldID)
	str("type", &it.ev.Type, fieldType)
	str("subject", &it.ev.Subject, fieldSubject)
	str("source", &it.ev.Source, fieldSource)
	str("specversion", &it.ev.SpecVersion, fieldSpecVersion)
	if v, ok := m["time"]; ok && string(v) != "null" {
		it.time = string(v)
	}
	if v, ok := m["data"]; ok && string(v) != "null" {
		it.ev.Data = v
	}
	return it
}

func checkLines(t *testing.T, body []byte, items []item, err error) {
	if err != nil {
		t.Fatalf("ndjson never fails as a whole under the batch limit: %v", err)
	}
	var want []item
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.Trim(line, " \t\r")
		switch {
		case line == "":
			continue
		case !json.Valid([]byte(line)):
			want = append(want, item{err: &events.Error{Code: "malformed_event"}})
		default:
			want = append(want, oracleItem([]byte(line)))
		}
	}
	compare(t, items, want)
}

func compare(t *testing.T, got, want []item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d items, encoding/json reads %d", len(got), len(want))
	}
	for i := range got {
		g, w := &got[i], &want[i]
		if code(g.err) != code(w.err) {
			t.Fatalf("item %d: error %v, encoding/json says %v", i, g.err, w.err)
		}
		if g.err != nil {
			continue
		}
		if g.ev.ID != w.ev.ID || g.ev.Type != w.ev.Type || g.ev.Subject != w.ev.Subject ||
			g.ev.Source != w.ev.Source || g.ev.SpecVersion != w.ev.SpecVersion ||
			g.time != w.time || string(g.ev.Data) != string(w.ev.Data) || g.wrong != w.wrong || g.idSet != w.idSet {
			t.Fatalf("item %d: decode read %+v (time %q, wrong %b), encoding/json %+v (time %q, wrong %b)",
				i, g.ev, g.time, g.wrong, w.ev, w.time, w.wrong)
		}
	}
}

func code(err *events.Error) string {
	if err == nil {
		return ""
	}
	return err.Code
}
