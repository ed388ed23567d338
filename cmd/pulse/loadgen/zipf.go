package loadgen

import (
	"math"
	"math/rand/v2"
	"sort"
)

// maxSubjects bounds the sampler's table (8 bytes a subject).
const maxSubjects = 1_000_000

// zipf picks subject ranks 0..n-1 with P(k) ∝ 1/(k+1)^s. Unlike math/rand's Zipf it accepts
// any s ≥ 0 (s = 0 is uniform, s ≈ 1 is the classic web-popularity skew), and its
// probabilities are known exactly, so expected counts can be computed and tested.
type zipf struct {
	n   int
	s   float64
	cdf []float64 // cdf[k] = Σ_{j≤k} w(j); nil when uniform
}

func newZipf(n int, s float64) *zipf {
	z := &zipf{n: n, s: s}
	if s == 0 {
		return z
	}
	z.cdf = make([]float64, n)
	var sum float64
	for k := range n {
		sum += math.Pow(float64(k+1), -s)
		z.cdf[k] = sum
	}
	return z
}

// pick draws one rank.
func (z *zipf) pick(r *rand.Rand) int {
	if z.cdf == nil {
		return r.IntN(z.n)
	}
	u := r.Float64() * z.cdf[z.n-1]
	// The first rank whose cumulative weight exceeds u.
	return sort.Search(z.n, func(i int) bool { return z.cdf[i] > u })
}

// prob is the probability of rank k.
func (z *zipf) prob(k int) float64 {
	if z.cdf == nil {
		return 1 / float64(z.n)
	}
	return math.Pow(float64(k+1), -z.s) / z.cdf[z.n-1]
}
