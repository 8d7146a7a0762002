// Package golden reads the reference tensors that committed scripts wrote with transformers and
// torch (lab/encoder/testdata), and gives tests the compute backend they run on.
package golden

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-huggingface/hub"
	"github.com/gomlx/go-huggingface/models/safetensors"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/lab/backend"
)

// Read returns tensor name of the safetensors file, read with go-huggingface's reader (an
// implementation independent of lab/safetensors).
func Read(t testing.TB, file, name string) *tensors.Tensor {
	t.Helper()
	st := safetensors.NewEmpty(hub.NewLocal(filepath.Dir(file)))
	r, err := st.NewTensorReader(filepath.Base(file))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tensor, err := r.ReadTensor(nil, name)
	if err != nil {
		t.Fatalf("%s: %s: %v", file, name, err)
	}
	return tensor
}

// Float32s returns tensor name of file as a flat slice.
func Float32s(t testing.TB, file, name string) []float32 {
	t.Helper()
	return tensors.MustCopyFlatData[float32](Read(t, file, name))
}

var sharedBackend = sync.OnceValues(func() (compute.Backend, error) { return backend.New("") })

// Backend is the default backend, created once per test binary.
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := sharedBackend()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
