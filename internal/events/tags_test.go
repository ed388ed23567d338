package events

import (
	"fmt"
	"math"
	"testing"
)

func TestSlot(t *testing.T) {
	t.Parallel()
	// Values of CLUSTER KEYSLOT on Redis 7.
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"123456789", 12739},
		{"foo", 12182},
		{"{p0}", 15882}, {"pulse:{p0}:events", 15882}, {"pulse:{p1}:events", 11819}, {"{p3}", 3689},
		{"{user1000}.following", 3443}, {"foo{}{bar}", 8363}, {"foo{{bar}}zap", 4015}, {"foo{bar}{zap}", 5061},
	} {
		if got := Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

// redisCliRanges is how `redis-cli --cluster create` splits the slots among m masters
// (clusterManagerCommandCreate in redis-cli.c).
func redisCliRanges(m int) []SlotRange {
	var out []SlotRange
	perNode := float64(SlotCount) / float64(m)
	first, cursor := 0, 0.0
	for i := range m {
		last := int(math.Round(cursor + perNode - 1))
		if last > SlotCount || i == m-1 {
			last = SlotCount - 1
		}
		last = max(last, first)
		out = append(out, SlotRange{Start: first, End: last, Master: fmt.Sprint("m", i)})
		first, cursor = last+1, cursor+perNode
	}
	return out
}

// TestBalancedSpread: with the default partition count, every master of a cluster made by
// redis-cli holds as many partitions as any other, give or take one.
func TestBalancedSpread(t *testing.T) {
	t.Parallel()
	spread := func(l Layout, masters int) (lo, hi int) {
		held := l.Spread(redisCliRanges(masters))
		lo, hi = l.Partitions, 0
		total := 0
		for i := range masters {
			n := len(held[fmt.Sprint("m", i)])
			lo, hi, total = min(lo, n), max(hi, n), total+n
		}
		if total != l.Partitions {
			t.Fatalf("%d partitions on %d masters: %d placed", l.Partitions, masters, total)
		}
		return lo, hi
	}
	for _, masters := range []int{2, 3, 4, 6, 8, 16} {
		if lo, hi := spread(DefaultLayout(), masters); hi-lo > 1 {
			t.Errorf("%d masters hold %d to %d of the %d default partitions", masters, lo, hi, DefaultPartitions)
		}
	}
	// Balanced tags balance any count; numbered ones did not (the 2/2/4).
	for _, n := range []int{1, 5, 8, 12, 64, 128} {
		for _, masters := range []int{3, 5, 7} {
			if lo, hi := spread(Layout{Partitions: n, Tags: TagsBalanced}, masters); hi-lo > 1 {
				t.Errorf("%d balanced partitions on %d masters: %d to %d each", n, masters, lo, hi)
			}
		}
	}
	if lo, hi := spread(Layout{Partitions: 8, Tags: TagsNumbered}, 3); lo != 2 || hi != 4 {
		t.Errorf("8 numbered partitions on 3 masters: %d to %d each, the issue saw 2 to 4", lo, hi)
	}
}

func TestLayoutKeys(t *testing.T) {
	t.Parallel()
	l := Layout{Partitions: 16, Tags: TagsBalanced}
	seen := map[string]bool{}
	for p := range l.Partitions {
		tag := l.Tag(p)
		if seen[tag] || Slot(tag) != BalancedSlot(p, 16) {
			t.Errorf("tag %s of partition %d: slot %d, want %d, unique", tag, p, Slot(tag), BalancedSlot(p, 16))
		}
		seen[tag] = true
		for _, key := range []string{l.Stream(p), l.Changes(p), l.Prefix(p) + "c:x", l.DedupeKey(p, "t", "s", "id")} {
			if Slot(key) != Slot(tag) {
				t.Errorf("key %s is not in its partition's slot", key)
			}
		}
	}
	if got := (Layout{Partitions: 8, Tags: TagsNumbered}).Stream(3); got != "pulse:{p3}:events" {
		t.Errorf("numbered Stream(3) = %s", got)
	}
	if l.DedupeKey(1, "t", "s", "a:b") == l.DedupeKey(1, "t", "b:s", "a") {
		t.Error("dedupe keys collide for ids containing ':'")
	}
	for _, bad := range []Layout{{Partitions: 0, Tags: TagsBalanced}, {Partitions: 8, Tags: "x"}, {Partitions: 8}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func BenchmarkBalancedTags(b *testing.B) {
	for _, n := range []int{16, 128} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				tagsByN.Delete(n)
				balancedTags(n)
			}
		})
	}
}
