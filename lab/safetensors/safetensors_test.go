package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriteThenReadRoundTrips: the tensors come back with their shapes and values, listed by
// name, and the data starts 8-byte aligned as the reference implementation writes it.
func TestWriteThenReadRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	named := map[string]Tensor{
		"b.weight": {Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-8, -7}},
		"a.bias":   {Shape: []int{2}, Data: []float32{0.25, -0.5}},
		"scalar":   {Shape: []int{}, Data: []float32{42}},
	}
	if err := Write(path, named, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 || !strings.Contains(string(raw[8:8+n]), `"__metadata__":{"format":"pt"}`) {
		t.Errorf("header of %d bytes (want a multiple of 8) with the metadata: %s", n, raw[8:8+n])
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, []string{"a.bias", "b.weight", "scalar"}) {
		t.Errorf("Names = %q, want the three tensors sorted", got)
	}
	for name, want := range named {
		got, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) || !slices.Equal(f.Shape(name), want.Shape) {
			t.Errorf("%s: %+v (header shape %v), want %+v", name, got, f.Shape(name), want)
		}
	}
}

// TestReadDecodesHalfPrecision: the f16 and bf16 fixtures hold the f32 one's weights cast to
// half precision (make_goldens.py), so they decode to its values within each format's precision:
// 11 significant bits for f16, 8 for bf16.
func TestReadDecodesHalfPrecision(t *testing.T) {
	fixtures := filepath.Join("..", "encoder", "testdata")
	const name = "bert.encoder.layer.0.attention.self.query.weight"
	read := func(fixture string) Tensor {
		f, err := Read(filepath.Join(fixtures, fixture, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		tensor, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		return tensor
	}
	want := read("bert-tiny-cls")
	for fixture, bits := range map[string]float64{"bert-tiny-cls-f16": 11, "bert-tiny-cls-bf16": 8} {
		got := read(fixture)
		if !slices.Equal(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, want %v", fixture, got.Shape, want.Shape)
		}
		differs := false
		for i, w := range want.Data {
			if d := math.Abs(float64(got.Data[i] - w)); d > math.Abs(float64(w))*math.Exp2(-bits)+1e-7 {
				t.Fatalf("%s: value %d is %g, want %g within %g bits", fixture, i, got.Data[i], w, bits)
			}
			differs = differs || got.Data[i] != w
		}
		if !differs {
			t.Errorf("%s decodes to the f32 values exactly: not half precision?", fixture)
		}
	}
}

// TestReadErrorsNameFileAndTensor: a broken file's error names the file and, for a tensor's
// data, the tensor, and says what is wrong.
func TestReadErrorsNameFileAndTensor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	if err := Write(path, map[string]Tensor{"w": {Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "model.safetensors")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	headerLen := binary.LittleEndian.Uint64(whole)
	header := string(whole[8 : 8+headerLen])
	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"too short", file(whole[:5]), []string{"not a safetensors file (5 bytes, truncated?)"}},
		{"header past the end", file(whole[:8+headerLen-1]), []string{"does not fit in the file", "truncated or not safetensors"}},
		{"data past the end", file(whole[:len(whole)-4]), []string{`tensor "w"`, "past the end of the file", "truncated"}},
		{"unknown dtype", file(append(append(slices.Clone(whole[:8]), strings.Replace(header, "F32", "I64", 1)...), whole[8+headerLen:]...)),
			[]string{`tensor "w"`, "dtype I64 is not supported"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(c.path)
			if err == nil {
				_, err = f.Tensor("w")
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, c.path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
