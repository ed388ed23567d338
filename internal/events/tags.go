package events

import (
	"strconv"
	"strings"
	"sync"
)

// Tags names a deployment's scheme of partition hash tags; it is recorded under MetaKey, so
// that a deployment keeps the keys it was created with.
type Tags string

const (
	// TagsBalanced gives partition p of n the tag "{p<p>.<k>}", with the least k that puts
	// it on the middle slot of the p-th of n equal shares of the 16384 slots. redis-cli
	// --cluster create gives each master a contiguous, equal share of the slots, so every
	// master holds n/masters partitions, give or take one (centrifugal/centrifuge#554 solved
	// the same problem the same way).
	TagsBalanced Tags = "balanced"
	// TagsNumbered is "{p<p>}", the scheme of deployments created before balanced tags. Its
	// slots fall where CRC16 puts them: 8 partitions landed in pairs on 4 slot regions, so 3
	// masters held 2, 2 and 4 of them.
	TagsNumbered Tags = "numbered"
)

// SlotCount is the number of Redis Cluster hash slots.
const SlotCount = 16384

// Slot is the cluster hash slot of key: CRC16 (XMODEM) of its hash tag, or of the whole key
// when it has none, mod 16384, as Redis computes it.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^key[i]]
	}
	return int(crc) % SlotCount
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// BalancedSlot is the slot TagsBalanced aims partition p of n at: the middle of its share.
func BalancedSlot(p, n int) int { return (2*p + 1) * SlotCount / (2 * n) }

// balancedTags are the tags of n partitions, computed once per n (about 16,000 hashes per
// partition: milliseconds for the default count).
func balancedTags(n int) []string {
	if v, ok := tagsByN.Load(n); ok {
		return v.([]string)
	}
	tags := make([]string, n)
	for p := range tags {
		want, prefix := BalancedSlot(p, n), "p"+strconv.Itoa(p)+"."
		for k := 0; ; k++ {
			if tag := prefix + strconv.Itoa(k); Slot(tag) == want {
				tags[p] = "{" + tag + "}"
				break
			}
		}
	}
	v, _ := tagsByN.LoadOrStore(n, tags)
	return v.([]string)
}

var tagsByN sync.Map // partition count → []string

// SlotRange is a contiguous range of slots held by one master.
type SlotRange struct {
	Start, End int // inclusive
	Master     string
}

// Spread says which partitions of l each master holds, given the cluster's slot ranges:
// master → partitions, ascending. A master of no range is absent; so is a partition on an
// unassigned slot.
func (l Layout) Spread(ranges []SlotRange) map[string][]int {
	out := map[string][]int{}
	for p := range l.Partitions {
		slot := Slot(l.Tag(p))
		for _, r := range ranges {
			if slot >= r.Start && slot <= r.End {
				out[r.Master] = append(out[r.Master], p)
				break
			}
		}
	}
	return out
}
