package data

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// labelRand returns the random source for one label's examples: seeded by seed and the label
// so each label's draw does not depend on the others.
func labelRand(seed uint64, label string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(label))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// indicesByLabel returns the indices of the examples of each label, and the labels in order
// of first appearance so results do not depend on map iteration.
func indicesByLabel(examples []Example) ([]string, map[string][]int) {
	var labels []string
	groups := map[string][]int{}
	for i, ex := range examples {
		if _, ok := groups[ex.Label]; !ok {
			labels = append(labels, ex.Label)
		}
		groups[ex.Label] = append(groups[ex.Label], i)
	}
	return labels, groups
}

// apportion divides n into len(weights) integer counts proportional to weights (which add up
// to 1) by largest remainder: each count is the floor or the ceil of n*weight.
func apportion(n int, weights []float64) []int {
	counts := make([]int, len(weights))
	rest := make([]float64, len(weights))
	left := n
	for i, w := range weights {
		exact := float64(n) * w
		counts[i] = int(math.Floor(exact + 1e-9))
		rest[i] = exact - float64(counts[i])
		left -= counts[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	// Stable: ties go to the earlier part.
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rest[a] > rest[b]:
			return -1
		case rest[a] < rest[b]:
			return 1
		}
		return 0
	})
	for i := 0; left > 0; i, left = i+1, left-1 {
		counts[order[i%len(order)]]++
	}
	return counts
}

// StratifiedSplit divides examples into len(fractions) parts holding the same fractions of
// every label (unlabelled examples count as one more label): each label's examples are
// dealt out in a random order fixed by seed, and part k gets the floor or the ceil of
// fractions[k] times the label's count (largest remainder, so all examples are used). Parts
// keep the examples' original order. The fractions must be positive and add up to 1.
func StratifiedSplit(examples []Example, seed uint64, fractions ...float64) ([][]Example, error) {
	sum := 0.0
	for _, f := range fractions {
		if !(f > 0) {
			return nil, fmt.Errorf("split fractions %v: want positive fractions", fractions)
		}
		sum += f
	}
	if len(fractions) == 0 || math.Abs(sum-1) > 1e-9 {
		return nil, fmt.Errorf("split fractions %v: want fractions adding up to 1", fractions)
	}
	part := make([]int, len(examples))
	labels, groups := indicesByLabel(examples)
	for _, label := range labels {
		idx := groups[label]
		perm := labelRand(seed, label).Perm(len(idx))
		k := 0
		for p, count := range apportion(len(idx), fractions) {
			for range count {
				part[idx[perm[k]]] = p
				k++
			}
		}
	}
	parts := make([][]Example, len(fractions))
	for i, ex := range examples {
		parts[part[i]] = append(parts[part[i]], ex)
	}
	return parts, nil
}

// keepPerLabel keeps, of each label's n examples, keep(label, n) of them drawn at random
// (fixed by seed), in their original order.
func keepPerLabel(examples []Example, seed uint64, keep func(label string, n int) int) []Example {
	kept := make([]bool, len(examples))
	labels, groups := indicesByLabel(examples)
	for _, label := range labels {
		idx := groups[label]
		for _, j := range labelRand(seed, label).Perm(len(idx))[:keep(label, len(idx))] {
			kept[idx[j]] = true
		}
	}
	var out []Example
	for i, ex := range examples {
		if kept[i] {
			out = append(out, ex)
		}
	}
	return out
}

// CapPerLabel keeps at most limit examples of each label, drawn at random (fixed by seed), in
// their original order.
func CapPerLabel(examples []Example, limit int, seed uint64) []Example {
	return keepPerLabel(examples, seed, func(_ string, n int) int { return min(n, max(limit, 0)) })
}

// Limit keeps n examples (all if there are fewer) with the labels in the same proportions
// (largest remainder), drawn at random (fixed by seed), in their original order.
func Limit(examples []Example, n int, seed uint64) []Example {
	if n >= len(examples) {
		return examples
	}
	labels, groups := indicesByLabel(examples)
	shares := make([]float64, len(labels))
	for i, label := range labels {
		shares[i] = float64(len(groups[label])) / float64(len(examples))
	}
	counts := apportion(n, shares)
	quota := map[string]int{}
	for i, label := range labels {
		quota[label] = counts[i]
	}
	return keepPerLabel(examples, seed, func(label string, _ int) int { return quota[label] })
}
