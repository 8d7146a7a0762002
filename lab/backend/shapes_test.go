package backend

import (
	"slices"
	"testing"
)

func TestShapes(t *testing.T) {
	fine, few := Shapes{}, Shapes{Few: true}
	for _, c := range []struct {
		s           Shapes
		n, limit    int
		want        int
		description string
	}{
		{fine, 1, 32, 1, "one row"}, {fine, 3, 32, 4, "next power of two"}, {fine, 17, 32, 32, ""}, {fine, 20, 20, 20, "capped"},
		{few, 1, 32, 1, "one row"}, {few, 2, 32, 4, "next power of four"}, {few, 5, 32, 16, ""}, {few, 17, 32, 32, "capped"},
		{few, 16, 16, 16, "a full batch"},
	} {
		if got := c.s.Rows(c.n, c.limit); got != c.want {
			t.Errorf("%+v.Rows(%d, %d) = %d, want %d (%s)", c.s, c.n, c.limit, got, c.want, c.description)
		}
	}
	if got, want := few.RowCounts(16), []int{1, 4, 16}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(16) with few shapes = %v, want %v", got, want)
	}
	if got, want := fine.RowCounts(32), []int{1, 2, 4, 8, 16, 32}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(32) = %v, want %v", got, want)
	}
	if got, want := few.RowCounts(20), []int{1, 4, 16, 20}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(20) with few shapes = %v, want %v", got, want)
	}
	if got := few.SeqLengths(64); !slices.Equal(got, []int{32, 64}) {
		t.Errorf("SeqLengths(64) with few shapes = %v", got)
	}
	if got := fine.SeqLengths(64); len(got) != 7 {
		t.Errorf("SeqLengths(64) = %v, want the 7 fine buckets", got)
	}
}
