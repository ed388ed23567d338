package counter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

const benchPartitions = 8

// BenchmarkApply measures the counter's apply rate: events/s from full partition streams to
// applied, with one and two consumers, over Zipf-skewed subjects and live event times (the
// last 5 s). Each round appends 100,000 events (not timed), then times the consumers draining
// them. Run: go test -run '^$' -bench Apply -benchtime 3x ./consumers/counter/
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1, 2} {
		for _, subjects := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("consumers=%d/subjects=%d", n, subjects), func(b *testing.B) {
				rdb := benchRedis(b)
				rng := rand.New(rand.NewPCG(1, 2))
				const round = 100_000
				var total int
				var spent time.Duration
				var redisCPU float64
				for b.Loop() {
					b.StopTimer()
					fill(b, rdb, rng, round, subjects, 5*time.Second)
					cpu := redisCPUSeconds(b, rdb)
					b.StartTimer()
					start := time.Now()
					drain(b, rdb, n, total+round)
					spent += time.Since(start)
					redisCPU += redisCPUSeconds(b, rdb) - cpu
					total += round
				}
				b.ReportMetric(float64(total)/spent.Seconds(), "events/s")
				// Redis' own CPU per event: the ceiling of one Redis core whatever else runs.
				b.ReportMetric(redisCPU/float64(total)*1e6, "redis-µs/event")
			})
		}
	}
}

// BenchmarkMemory measures the counter state in Redis per 10,000 active subjects (INFO memory
// used_memory after applying minus before, the streams already full), with each subject active
// in 1, 10 or 60 distinct seconds of the last 10 minutes and 3 events per active second.
// Run: go test -run '^$' -bench Memory -benchtime 1x ./consumers/counter/
func BenchmarkMemory(b *testing.B) {
	for _, active := range []int{1, 10, 60} {
		b.Run(fmt.Sprintf("active_seconds=%d", active), func(b *testing.B) {
			const subjects = 10_000
			var perSubject float64
			for b.Loop() {
				b.StopTimer()
				rdb := benchRedis(b)
				ctx := context.Background()
				now := time.Now().UnixMilli()
				rng := rand.New(rand.NewPCG(3, 4))
				pipe := rdb.Pipeline()
				n := 0
				for s := range subjects {
					for _, sec := range rng.Perm(590)[:active] {
						for range 3 {
							addEvent(ctx, pipe, n, fmt.Sprintf("video-%d", s), now-int64(sec+5)*1000)
							n++
						}
					}
					if pipe.Len() > 5_000 {
						mustExec(b, pipe)
					}
				}
				mustExec(b, pipe)
				before := usedMemory(b, rdb)
				b.StartTimer()
				drain(b, rdb, 1, n)
				b.StopTimer()
				perSubject = float64(usedMemory(b, rdb)-before) / subjects
				b.StartTimer()
			}
			b.ReportMetric(perSubject*10_000/(1<<20), "MiB/10k-subjects")
			b.ReportMetric(perSubject, "B/subject")
		})
	}
}

func benchRedis(b testing.TB) *redis.Client {
	b.Helper()
	opt, err := redis.ParseURL(testenv.StartRedis(b).URL)
	if err != nil {
		b.Fatal(err)
	}
	opt.PoolSize = 64 // blocked readers: 8 per consumer
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	for p := range benchPartitions {
		if err := rdb.XGroupCreateMkStream(context.Background(), testenv.Numbered.Stream(p), events.GroupCounter, "0").Err(); err != nil {
			b.Fatal(err)
		}
	}
	return rdb
}

// fill appends n events over Zipf-skewed subjects with times in the last spread.
func fill(b testing.TB, rdb *redis.Client, rng *rand.Rand, n, subjects int, spread time.Duration) {
	b.Helper()
	ctx := context.Background()
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(subjects-1))
	now := time.Now().UnixMilli()
	pipe := rdb.Pipeline()
	for i := range n {
		addEvent(ctx, pipe, i, "video-"+strconv.FormatUint(zipf.Uint64(), 10), now-rng.Int64N(spread.Milliseconds()))
		if pipe.Len() == 5_000 {
			mustExec(b, pipe)
		}
	}
	mustExec(b, pipe)
}

func addEvent(ctx context.Context, pipe redis.Pipeliner, i int, subject string, at int64) {
	ev := events.Event{ID: "b" + strconv.Itoa(i), Type: "video_liked", Subject: subject, Time: at, Received: time.Now().UnixMilli()}
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: testenv.Numbered.Stream(events.Partition(ev.Type, ev.Subject, benchPartitions)), Values: ev.Values()})
}

func mustExec(b testing.TB, pipe redis.Pipeliner) {
	b.Helper()
	if _, err := pipe.Exec(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// drain runs n counters until the group has read and acknowledged `want` entries in all.
func drain(b testing.TB, rdb *redis.Client, n, want int) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		c, err := counter.New(rdb, counter.Config{
			Layout: events.Layout{Partitions: benchPartitions, Tags: events.TagsNumbered},
			Group:  consumers.Config{Consumer: fmt.Sprintf("bench-%d", i), Block: 20 * time.Millisecond},
			Logger: quiet,
		})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	for {
		var read, pending int64
		for p := range benchPartitions {
			gs, err := rdb.XInfoGroups(ctx, testenv.Numbered.Stream(p)).Result()
			if err != nil {
				b.Fatal(err)
			}
			read += gs[0].EntriesRead
			pending += gs[0].Pending
		}
		if read >= int64(want) && pending == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	wg.Wait()
}

// redisCPUSeconds is the CPU time of Redis' main thread (INFO cpu).
func redisCPUSeconds(b testing.TB, rdb *redis.Client) float64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, field := range []string{"used_cpu_user_main_thread:", "used_cpu_sys_main_thread:"} {
			if v, ok := strings.CutPrefix(line, field); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return total
}

func usedMemory(b testing.TB, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory in INFO memory")
	return 0
}
