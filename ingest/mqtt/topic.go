package mqtt

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/eclipse/paho.golang/paho"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/events"
)

// topics maps a message's topic onto an ingest message. The filter's levels before a trailing
// "#" are the base: a topic of exactly the base's levels carries bodies as POST /v1/events
// does, and base/<type>/<subject> one event of that type and subject.
type topics struct {
	base int // levels of the base
}

func newTopics(filter string) topics {
	levels := strings.Split(filter, "/")
	if levels[len(levels)-1] == "#" {
		levels = levels[:len(levels)-1]
	}
	return topics{base: len(levels)}
}

var errTopic = &events.Error{Kind: events.KindInvalid, Code: "invalid_topic",
	Message: "the topic must be the base (events in the body) or base/<type>/<subject>"}

// message is the ingest message of p, or the error that refuses it whole.
func (tp topics) message(p *paho.Publish) (ingest.Message, *events.Error) {
	m := ingest.Message{Body: string(p.Payload), Origin: map[string]string{"topic": p.Topic}}
	props := p.Properties
	if props == nil {
		props = &paho.PublishProperties{}
	}
	m.ContentType = props.ContentType
	m.Derive = derive(p.Topic, props, p.Payload)
	levels := strings.Split(p.Topic, "/")
	switch len(levels) - tp.base {
	case 0:
	case 2:
		m.Type, m.Subject, m.ID = levels[tp.base], levels[tp.base+1], props.User.Get("id")
		if m.Type == "" || m.Subject == "" {
			return m, errTopic
		}
	default:
		return m, errTopic
	}
	return m, nil
}

// derive returns the ids of the message's events that carry none: "mqtt:" + 128 bits of the
// SHA-256 of everything the broker delivers again unchanged on a redelivery (topic, content
// type, correlation data, user properties, payload) + ":" + the event's index in the body. A
// redelivered message gets the same ids, so its events count once; so do two messages that
// are identical in all of these within the dedupe horizon (docs/mqtt.md). Packet ids are not
// used: a broker reuses them once acknowledged, and gives a redelivery another one when it
// goes to another member of the shared subscription.
func derive(topic string, props *paho.PublishProperties, payload []byte) func(int) string {
	var prefix string
	return func(i int) string {
		if prefix == "" {
			h := sha256.New()
			field := func(b []byte) {
				h.Write(strconv.AppendInt(nil, int64(len(b)), 10))
				h.Write([]byte{':'})
				h.Write(b)
			}
			field([]byte(topic))
			field([]byte(props.ContentType))
			field(props.CorrelationData)
			for _, u := range props.User {
				field([]byte(u.Key))
				field([]byte(u.Value))
			}
			field(payload)
			prefix = "mqtt:" + hex.EncodeToString(h.Sum(nil)[:16]) + ":"
		}
		return prefix + strconv.Itoa(i)
	}
}
