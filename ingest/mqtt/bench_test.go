package mqtt_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/pulsehq/pulse/ingest/mqtt"
	"github.com/pulsehq/pulse/internal/testenv"
)

// BenchmarkIntake measures events/s from MQTT publishers into Redis through the intake: one op
// publishes 200,000 events (as messages of `per` events) from 8 clients at QoS 1 and ends when
// every event is in the streams. Mosquitto and Redis (AOF, appendfsync everysec, on TCP, as in
// the HTTP ingest benchmarks) run on the same machine.
func BenchmarkIntake(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("events=%d/message", per), func(b *testing.B) {
			rd := testenv.StartRedisWith(b, testenv.RedisOptions{TCP: true, AppendFsync: "everysec"})
			// Quiet: go test prints a benchmark's result on the line its name began, after
			// whatever the run logged.
			f := newFixtureOn(b, rd, mqtt.Config{Logger: slog.New(slog.DiscardHandler)})
			const events, clients = 200_000, 8
			pubs := make([]*paho.Client, clients)
			for i := range pubs {
				pubs[i] = f.broker.MQTTClient(b, "bench-"+strconv.Itoa(i), nil)
			}
			ctx := context.Background()
			stored := func() int64 {
				var n int64
				for p := range f.layout.Partitions {
					n += f.rdb.XLen(ctx, f.layout.Stream(p)).Val()
				}
				return n
			}
			var seq atomic.Int64
			b.ResetTimer()
			for range b.N {
				want := stored() + events
				var next atomic.Int64
				var wg sync.WaitGroup
				for _, c := range pubs {
					wg.Go(func() {
						for next.Add(int64(per)) <= events {
							if _, err := c.Publish(ctx, message(seq.Add(int64(per)), per)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				for stored() < want {
					time.Sleep(5 * time.Millisecond)
				}
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(events*b.N)/secs, "events/s")
			b.ReportMetric(float64(events*b.N/per)/secs, "messages/s")
		})
	}
}

// message is a QoS 1 message of per events ending at seq: the topic form for one, a JSON array
// for more.
func message(seq int64, per int) *paho.Publish {
	if per == 1 {
		return &paho.Publish{QoS: 1, Topic: "pulse/events/video_liked/v" + strconv.FormatInt(seq%10_000, 10),
			Payload: []byte(`{"seq":` + strconv.FormatInt(seq, 10) + `}`)}
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := range per {
		if i > 0 {
			b.WriteByte(',')
		}
		s := seq - int64(i)
		fmt.Fprintf(&b, `{"type":"video_liked","subject":"v%d","data":{"seq":%d}}`, s%10_000, s)
	}
	b.WriteByte(']')
	return &paho.Publish{QoS: 1, Topic: "pulse/events", Payload: []byte(b.String())}
}
