package sink

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Ketama is the key layout of twemproxy's `distribution: ketama` with
// `hash: fnv1a_64` (its documented example pool), for mode: ring with
// ring_hash: ketama. Each shard gets 160 points on a 32-bit circle,
// scaled by its share of the total weight (in fours: one MD5 digest of
// "name-i" gives four points, one per 4-byte little-endian word); a key
// belongs to the first point at or after its hash, wrapping at the end.
// Names are what twemproxy hashes: a server's name, or "host:port" when
// the pool names none. go-redis Ring hashes only a key's {hash tag} when it
// has one, which is twemproxy's hash_tag: "{}".
type Ketama struct {
	points []ketamaPoint
}

type ketamaPoint struct {
	value uint32
	shard string
}

const ketamaPointsPerServer = 160

// NewKetama builds the circle for shards (name → weight, each at least 1).
func NewKetama(weights map[string]int) *Ketama {
	total := 0
	for _, w := range weights {
		total += w
	}
	k := &Ketama{}
	for name, w := range weights {
		// As twemproxy computes it, in float32: floorf(pct*160/4*n + 1e-10) * 4.
		pct := float32(w) / float32(total)
		scaled := float32(float64(pct*ketamaPointsPerServer/4*float32(len(weights))) + 0.0000000001)
		perServer := int(math.Floor(float64(scaled))) * 4
		for i := 0; i < perServer/4; i++ {
			digest := md5.Sum([]byte(name + "-" + strconv.Itoa(i)))
			for x := 0; x < 4; x++ {
				k.points = append(k.points, ketamaPoint{binary.LittleEndian.Uint32(digest[4*x:]), name})
			}
		}
	}
	// twemproxy's qsort leaves equal values in no defined order; the name
	// makes ours reproducible.
	sort.Slice(k.points, func(i, j int) bool {
		a, b := k.points[i], k.points[j]
		return a.value < b.value || a.value == b.value && a.shard < b.shard
	})
	return k
}

// Get returns the shard of key (already reduced to its hash tag by the Ring).
func (k *Ketama) Get(key string) string {
	if len(k.points) == 0 {
		return ""
	}
	h := fnv1a64(key)
	i := sort.Search(len(k.points), func(i int) bool { return k.points[i].value >= h })
	if i == len(k.points) {
		i = 0
	}
	return k.points[i].shard
}

// fnv1a64 is twemproxy's hash_fnv1a_64: FNV-1a with the 64-bit constants
// truncated to 32 bits, over the key's bytes read as C's signed char, so a
// byte of 0x80 or more is sign-extended (x86 and most Linux targets): that
// is what twemproxy does with a UTF-8 key.
func fnv1a64(key string) uint32 {
	const offset64, prime64 = 0xcbf29ce484222325, 0x100000001b3
	h := uint32(offset64 & 0xffffffff)
	for i := 0; i < len(key); i++ {
		h ^= uint32(int32(int8(key[i])))
		h *= uint32(prime64 & 0xffffffff)
	}
	return h
}

var _ redis.ConsistentHash = (*Ketama)(nil)
