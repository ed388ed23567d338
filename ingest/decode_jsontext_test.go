//go:build goexperiment.jsonv2

package ingest

import (
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// decodeJSONText is decode's hot path (formatJSON: an array of event objects) written on Go's
// json/v2 token API, kept to measure the hand-written scanner against it: go test
// -tags goexperiment.jsonv2 (GOEXPERIMENT=jsonv2 on Go 1.26, the default from Go 1.27)
// -bench Decoder. Field values are substrings of body, as decode's are.
func decodeJSONText(body string, max int, dst []item) ([]item, error) {
	dec := jsontext.NewDecoder(strings.NewReader(body))
	object := func() error {
		if _, err := dec.ReadToken(); err != nil { // '{'
			return err
		}
		it := item{}
		start := int(dec.InputOffset()) - 1
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return err
			}
			key := k.String() // before the next call voids k
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			end := int(dec.InputOffset())
			it.set(key, body[end-len(v):end])
		}
		if _, err := dec.ReadToken(); err != nil { // '}'
			return err
		}
		it.raw = body[start:dec.InputOffset()]
		dst = append(dst, it)
		return nil
	}
	switch dec.PeekKind() {
	case '{':
		return dst, object()
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return dst, err
		}
		for n := 0; dec.PeekKind() != ']'; n++ {
			if n == max {
				return dst, errTooMany
			}
			if dec.PeekKind() != '{' {
				v, err := dec.ReadValue()
				if err != nil {
					return dst, err
				}
				dst = append(dst, item{raw: string(v)}) // rejected: not an object
				continue
			}
			if err := object(); err != nil {
				return dst, err
			}
		}
		_, err := dec.ReadToken()
		return dst, err
	}
	return dst, errors.New("not an object or an array")
}

func TestDecodeJSONTextAgrees(t *testing.T) {
	body := benchBody(50)
	want, err := decode(formatJSON, body, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeJSONText(body, 100, nil)
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d items, %v; want %d", len(got), err, len(want))
	}
	for i := range got {
		if got[i].raw != want[i].raw || fmt.Sprint(got[i].ev) != fmt.Sprint(want[i].ev) {
			t.Fatalf("item %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// BenchmarkDecoder: the hand-written scanner against jsontext on the same bodies.
func BenchmarkDecoder(b *testing.B) {
	for _, n := range []int{1, 100} {
		body := benchBody(n)
		for _, d := range []struct {
			name string
			f    func(string, int, []item) ([]item, error)
		}{
			{"scanner", func(s string, max int, dst []item) ([]item, error) { return decode(formatJSON, s, max, dst) }},
			{"jsontext", decodeJSONText},
		} {
			b.Run(fmt.Sprintf("events=%d/%s", n, d.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				items := make([]item, 0, n)
				for b.Loop() {
					clear(items)
					var err error
					if items, err = d.f(body, n, items[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
